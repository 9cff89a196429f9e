from shared.serve import main

main("contracts")
