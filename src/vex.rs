//! OpenVEX statements about a released image, signed and attached as referrers.
