"""The shopper's own data (profile.proto: ProfileService): profile, addresses, consents, habits,
export and erasure, the vault that seals the personal data."""
