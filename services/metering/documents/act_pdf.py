"""The "Act on volumes supplied" (§4.13) as the PDF the buyer signs and returns within 15 calendar days of receipt,
or it is deemed signed (§4.14): the month, its settlement volume from the system operator's actual balance, the
meters' sum beside it, the delivery points and meters it was supplied through, and where the act stands. In the
layout of the ledger's documents (`shared/pdf.py`). Metering holds no party's name: the parties sign below."""

from __future__ import annotations

from services.metering.queries import ActDocument
from shared.pdf import fields, heading, new_document, note, signatures, table

STATUS = {"issued": "выставлен, ожидает подписи / issued, awaiting signature", "accepted": "принят / accepted",
          "disputed": "оспорен / disputed", "corrected": "заменён исправленным / replaced by a corrected act"}


def _kwh(value) -> str:
    return f"{value:,}".replace(",", " ") + " кВт·ч / kWh"


def render(act: ActDocument) -> bytes:
    pdf = new_document(f"Volume act {act.act_id}")
    heading(pdf, "Акт об объёмах поставленной электроэнергии / Act on volumes supplied")
    rows = [("№ / No.", act.act_id), ("Договор / Contract", act.contract_id), ("Период / Month", act.period),
            ("Дата / Date", act.issued_on.isoformat()), ("Получен / Delivered", act.delivered_on.isoformat())]
    if act.corrects_act_id:
        rows.append(("Заменяет / Replaces", act.corrects_act_id))
    rows.append(("Объём / Volume", _kwh(act.volume_kwh)))
    if act.published_on is not None:
        rows.append(("Фактический баланс / Actual balance", f"{act.published_on.isoformat()}"))
    if act.meter_volume_kwh is not None:
        rows.append(("По приборам учёта / Meters' sum", _kwh(act.meter_volume_kwh)))
        rows.append(("Разница / Difference", _kwh(act.difference_kwh)))
    status = STATUS.get(act.status, act.status)
    if act.accepted_on is not None:
        status += f" {act.accepted_on.isoformat()}" + (" (по истечении 15 дней / deemed)" if act.deemed else "")
    rows.append(("Статус / Status", status))
    fields(pdf, rows, label_width=70)
    pdf.ln(3)
    table(pdf, (30, 62, 18, 30, 30, 20),
          ("Точка / Point", "Наименование / Name", "кВ / kV", "Счётчик / Meter", "Тип / Type", "Коэф. / ×"),
          [(p.delivery_point_code, p.delivery_point_name, f"{p.voltage_kv.normalize()}", p.serial, p.meter_type[:16],
            str(p.multiplier)) for p in act.points], right_from=5)
    pdf.ln(4)
    if act.deemed_accepted_on is not None:
        note(pdf, f"Подписать и вернуть до {act.deemed_accepted_on.isoformat()}; иначе акт считается подписанным "
                  f"обеими сторонами (п. 4.14). Sign and return by {act.deemed_accepted_on.isoformat()}; otherwise "
                  f"the act is deemed signed by both parties (§4.14).")
    note(pdf, "Объём периода — по фактическому балансу НДЦ СО АО «KEGOC» (п. 4.11). The period's volume is the "
              "system operator's actual balance (§4.11).")
    signatures(pdf, "Продавец / Seller", "Покупатель / Buyer")
    return bytes(pdf.output())
