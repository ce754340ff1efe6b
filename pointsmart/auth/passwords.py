"""Password hashing with argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1)."""

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(
    time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

#: verified against when the user name is unknown, so that a miss takes as long as a wrong password
_DUMMY = HASHER.hash("not-a-password")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
