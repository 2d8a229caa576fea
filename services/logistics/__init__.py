"""Logistics: warehouses, stock per warehouse per SKU and its ledger (later: reservations,
shipments, tracking, carriers)."""
