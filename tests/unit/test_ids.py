"""Request and decision ids: ``uuid.uuid4().hex`` form, random."""

import uuid

from routeiq_sidecar.ids import new_id


def test_new_id_is_a_version_4_uuid_in_hex() -> None:
    for _ in range(200):
        s = new_id()
        assert len(s) == 32 and s == s.lower()
        u = uuid.UUID(hex=s)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and u.hex == s


def test_new_ids_differ() -> None:
    assert len({new_id() for _ in range(10_000)}) == 10_000
