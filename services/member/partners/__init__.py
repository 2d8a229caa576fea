"""Partner ERPs' credentials and their request signatures (partner.proto: PartnerService)."""
