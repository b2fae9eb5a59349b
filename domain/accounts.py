"""The chart of accounts. Names are colon-separated paths; the first segment
is the account type. docs/chart-of-accounts.md explains each account."""

from __future__ import annotations

from enum import StrEnum


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def is_debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


_TYPE_BY_ROOT = {
    "assets": AccountType.ASSET,
    "liabilities": AccountType.LIABILITY,
    "equity": AccountType.EQUITY,
    "revenue": AccountType.REVENUE,
    "expenses": AccountType.EXPENSE,
}

USAGE_REVENUE = "revenue:usage"
GRANTS_EXPENSE = "expenses:grants"
STRIPE_CASH = "assets:cash:stripe"  # money collected through Stripe, until paid out
BANK_CASH = "assets:cash:bank"  # bank transfers recorded against invoices
WRITE_OFFS = "expenses:write-offs"  # invoices given up as uncollectible
ROUNDING = "expenses:rounding"  # invoice totals rounded to the currency's minor unit


def account_type(account: str) -> AccountType:
    root = account.split(":", 1)[0]
    try:
        return _TYPE_BY_ROOT[root]
    except KeyError:
        raise ValueError(f"account {account!r} is not in the chart of accounts") from None


def wallet(customer: str) -> str:
    """Prepaid funds the operator owes the customer (a liability)."""
    return f"liabilities:wallet:{customer}"


def receivable(customer: str) -> str:
    """Usage a postpaid or invoiced customer owes the operator (an asset)."""
    return f"assets:receivable:{customer}"


def provider_cost(provider: str) -> str:
    """Cost of revenue: what the model provider charges for the usage."""
    return f"expenses:provider:{provider}"


def provider_payable(provider: str) -> str:
    """What the operator owes the model provider for the usage."""
    return f"liabilities:payable:provider:{provider}"


def customer_account(customer: str, billing: str) -> str:
    """The account a customer's usage is charged to, by billing mode."""
    return wallet(customer) if billing == "prepaid" else receivable(customer)


CUSTOMER_ACCOUNT_ROOTS = ("liabilities:wallet:", "assets:receivable:")


def customer_of(account: str) -> str | None:
    """The customer whose wallet or receivable this account is, else None."""
    for root in CUSTOMER_ACCOUNT_ROOTS:
        if account.startswith(root):
            return account[len(root) :]
    return None
