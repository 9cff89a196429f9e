"""The back office: the operators' workplace in a browser, a backend-for-frontend over the four services'
public HTTP APIs. It holds no business data and decides no business rule: it shows what the services
decided and sends the signed-in person's commands to them, as that person (docs/backoffice.md)."""
