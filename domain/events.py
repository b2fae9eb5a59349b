"""The domain event classes by name.

eventsourcing's @event decorator creates these classes at import time, which
a type checker cannot see; naming them once here keeps every other module
free of that blind spot."""

from __future__ import annotations

from typing import Any

from domain.alerts import Alert, Delivery, WebhookEndpoint
from domain.card_top_up import CardTopUp
from domain.catalog import Plan, PriceBook
from domain.customer import Customer
from domain.holds import Authorization, Holds
from domain.invoice import Invoice
from domain.tier_settlement import TierSettlement
from domain.top_up import TopUp
from domain.usage import Usage

CustomerRegistered: type[Any] = Customer.Registered  # type: ignore[attr-defined]
CustomerUpdated: type[Any] = Customer.Updated
CustomerStripeLinked: type[Any] = Customer.StripeLinked  # type: ignore[attr-defined]
CustomerAutoTopUpSet: type[Any] = Customer.AutoTopUpSet  # type: ignore[attr-defined]
CustomerLimitsSet: type[Any] = Customer.LimitsSet  # type: ignore[attr-defined]
CustomerBillingDetailsSet: type[Any] = Customer.BillingDetailsSet  # type: ignore[attr-defined]
CustomerApiKeyIssued: type[Any] = Customer.ApiKeyIssued  # type: ignore[attr-defined]
CustomerApiKeyRevoked: type[Any] = Customer.ApiKeyRevoked  # type: ignore[attr-defined]
PriceBookCreated: type[Any] = PriceBook.Created
PriceVersionPublished: type[Any] = PriceBook.VersionPublished  # type: ignore[attr-defined]
PlanCreated: type[Any] = Plan.Created
PlanVersionPublished: type[Any] = Plan.VersionPublished  # type: ignore[attr-defined]
UsageRecorded: type[Any] = Usage.Recorded  # type: ignore[attr-defined]
UsageRerated: type[Any] = Usage.Rerated  # type: ignore[attr-defined]
UsageUnpriced: type[Any] = Usage.Unpriced  # type: ignore[attr-defined]
TopUpGranted: type[Any] = TopUp.Granted  # type: ignore[attr-defined]
TopUpExpired: type[Any] = TopUp.Expired  # type: ignore[attr-defined]
TierSettlementOpened: type[Any] = TierSettlement.Opened  # type: ignore[attr-defined]
TierSettled: type[Any] = TierSettlement.Settled  # type: ignore[attr-defined]
CardTopUpRequested: type[Any] = CardTopUp.Requested  # type: ignore[attr-defined]
CardTopUpSucceeded: type[Any] = CardTopUp.Succeeded  # type: ignore[attr-defined]
CardTopUpFailed: type[Any] = CardTopUp.Failed  # type: ignore[attr-defined]
InvoiceIssued: type[Any] = Invoice.Issued  # type: ignore[attr-defined]
InvoiceChargeFailed: type[Any] = Invoice.ChargeFailed  # type: ignore[attr-defined]
InvoiceMarkedUncollectible: type[Any] = Invoice.MarkedUncollectible  # type: ignore[attr-defined]
InvoicePaid: type[Any] = Invoice.Paid  # type: ignore[attr-defined]
InvoiceReopened: type[Any] = Invoice.Reopened  # type: ignore[attr-defined]
CardTopUpRefunded: type[Any] = CardTopUp.Refunded  # type: ignore[attr-defined]
CardTopUpDisputed: type[Any] = CardTopUp.Disputed  # type: ignore[attr-defined]
AuthorizationDecided: type[Any] = Authorization.Decided  # type: ignore[attr-defined]
AuthorizationVoided: type[Any] = Authorization.Voided  # type: ignore[attr-defined]
HoldsOpened: type[Any] = Holds.Opened  # type: ignore[attr-defined]
HoldPlaced: type[Any] = Holds.Placed  # type: ignore[attr-defined]
HoldReleased: type[Any] = Holds.Released  # type: ignore[attr-defined]
HoldsSwept: type[Any] = Holds.Swept  # type: ignore[attr-defined]
AlertRaised: type[Any] = Alert.Raised  # type: ignore[attr-defined]
WebhookEndpointCreated: type[Any] = WebhookEndpoint.Created
WebhookEndpointDisabled: type[Any] = WebhookEndpoint.Disabled  # type: ignore[attr-defined]
DeliveryScheduled: type[Any] = Delivery.Scheduled  # type: ignore[attr-defined]
DeliveryAttempted: type[Any] = Delivery.Attempted  # type: ignore[attr-defined]
