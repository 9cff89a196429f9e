from shared.serve import main

main("invoicing")
