"""The counter reads a printed card live over the village's own HTTPS (issue 15).

The cases of :mod:`.test_counter_camera`, run again with the village served as ``pointsmart run``
serves it — cheroot, HTTPS by the village's private CA — at ``https://village.lan:<port>``, a name that
is not loopback (so only HTTPS makes the page a secure context), in a Chromium whose NSS database
trusts that CA (:func:`tests.tls_live.chromium_trusting`). ``read_card_live`` asserts
``isSecureContext`` before it starts the camera.
"""

import pytest

from ..tls_live import chromium_trusting
from .test_counter_camera import (  # noqa: F401 (the cases and the fixtures they use, run here again)
    card_video,
    counter,
    test_a_barcodedetector_that_reads_no_qr_codes_falls_back_to_the_wasm_decoder,
    test_with_barcodedetector_removed_the_wasm_decoder_reads_the_card_live,
)


@pytest.fixture
def camera_base_url(village_https) -> str:
    return village_https.https_url


@pytest.fixture
def camera_browser(playwright, village_https):
    return lambda extra: chromium_trusting(playwright, village_https.ca_file, extra)
