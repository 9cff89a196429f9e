"""The codes the services answer with that the pages show as words: each marked for the catalogue, whose
Russian text is what a person reads (`status:signed` → «подписан»)."""

from services.backoffice.i18n import N_

SHOWN_CODES = (
    N_("status:draft"), N_("status:signed"), N_("status:terminated"), N_("status:settled"),
    N_("invoice:open"), N_("invoice:overdue"), N_("invoice:paid"), N_("invoice:credit"),
    N_("notice:restriction"), N_("notice:termination"),
    N_("received:identified"), N_("received:unidentified"),
    N_("lifecycle:draft"), N_("lifecycle:signed"), N_("lifecycle:in_force"), N_("lifecycle:delivery_ended"),
    N_("lifecycle:terminated"), N_("lifecycle:settled"),
    N_("aging:current"), N_("aging:1-30"), N_("aging:31-60"), N_("aging:61-90"), N_("aging:>90"),
    N_("act:issued"), N_("act:accepted"), N_("act:disputed"), N_("act:corrected"),
    N_("role:contracts"), N_("role:dispatch"), N_("role:metering"), N_("role:treasury"), N_("role:billing"),
    N_("role:collections"), N_("role:claims"), N_("role:privacy"), N_("role:admin"), N_("role:auditor"),
    N_("claim:open"), N_("claim:accepted"), N_("claim:rejected"), N_("claim:referred_to_court"),
)

# treasury: a statement line's outcome, how a receipt was matched (or why not), the requests awaiting four eyes
TREASURY_CODES = (
    N_("outcome:posted"), N_("outcome:unidentified"), N_("outcome:already_posted"),
    N_("outcome:reference_conflict"), N_("outcome:rejected"),
    N_("match:contract_number"), N_("match:payer_and_number_in_purpose"), N_("match:payer_only"),
    N_("match:ambiguous"), N_("match:unknown_payer"),
    N_("request:invoicing.PaymentReversalRequested"), N_("request:invoicing.PenaltyWaiverRequested"),
    N_("request:invoicing.RefundRequested"), N_("request:invoicing.TerminationNoticeProposed"),
)
# the claims desk: a claim's subject and its correction, a force-majeure party, a personal-data request's kind
CLAIMS_CODES = (
    N_("subject:invoice"), N_("subject:payment_allocation"), N_("subject:penalty"), N_("subject:volume_act"),
    N_("subject:restriction"), N_("subject:service_quality"), N_("subject:other"),
    N_("correction:credit_note"), N_("correction:penalty_waiver"), N_("correction:volume_reduction"),
    N_("party:seller"), N_("party:buyer"),
    N_("pd:access"), N_("pd:portability"), N_("pd:correction"), N_("pd:deletion"),
    N_("pd-outcome:answered"), N_("pd-outcome:approved"), N_("pd-outcome:declined"), N_("pd-outcome:shredded"),
    N_("criterion:staff_work"), N_("criterion:information_accuracy"), N_("criterion:responsiveness"),
    N_("criterion:system_services_quality"), N_("criterion:dispatch_quality"),
)
