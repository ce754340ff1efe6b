"""Scoring: the rulebook (积分细则), the panel (评比小组) and the rounds (评定) with public notice (公示).

A round moves draft → submitted → approved → notice → finalised. Scores can change in draft, and
during the notice only by resolving an objection. A round copies the criteria it offers when it is
created (:class:`RoundCriterion`), so editing the rulebook never changes a round under way or done.
Finalising posts every household's points to the ledger in one bulk posting, once.
"""
