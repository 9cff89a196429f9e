"""Invoicing's HTTP API, one module per resource: thin routes that parse a command and hand it to the
application (`application.Invoicing`), or read a read model (`queries.py`)."""

from services.invoicing.api import (
    accounts,
    aging,
    approvals,
    base_rates,
    books,
    collection_holds,
    collection_runs,
    day_close,
    deposits,
    documents,
    invoices,
    notices,
    payments,
    penalties,
    prepayment_runs,
    prepayments,
    receipts,
    refunds,
    statements,
    worklists,
)

routers = [accounts.router, statements.router, payments.router, receipts.router, prepayments.router, prepayment_runs.router,
           penalties.router, refunds.router, day_close.router, approvals.router, books.router, base_rates.router,
           aging.router, documents.router, collection_runs.router, collection_holds.router, notices.router,
           deposits.router, worklists.router, invoices.router]
