"""Who is signing in (member.proto: AuthService, StaffService): accounts, staff, passwords, JWTs, refresh tokens."""
