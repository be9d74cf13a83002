"""HTTP: pages, languages, security headers, the plain WebSocket lobby, the Admin UI; templates and static files."""
