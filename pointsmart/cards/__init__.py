"""Point cards (积分卡): a random token in a QR code, a short card number with a check digit."""
