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
