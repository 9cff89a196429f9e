"""Development tooling: never part of the product (the wheel and the image leave it out)."""
