//! `#[derive(Describe)]`: adds `fn describe() -> &'static str` returning the type's name.

use proc_macro::TokenStream;
use quote::quote;

/// Derives `describe()`, which returns the type's name.
#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let mut iter = input.into_iter().skip_while(|t| t.to_string() != "struct");
    let _ = iter.next();
    let name = iter.next().expect("a struct name");
    let text = name.to_string();
    quote! {
        impl #name {
            /// The type's name.
            pub fn describe() -> &'static str { #text }
        }
    }
    .into()
}
