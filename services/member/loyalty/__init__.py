"""Tiers, the points ledger, the points mall, birthday gifts (loyalty.proto: LoyaltyService, LoyaltyAdminService)."""
