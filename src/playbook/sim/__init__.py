"""The offline simulated customer-service world (DESIGN.md section 5) and its HTTP server."""
