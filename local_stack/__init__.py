"""Local stand-ins for OTMM, Box, PostgreSQL and SMTP, for the demo and the tests."""
