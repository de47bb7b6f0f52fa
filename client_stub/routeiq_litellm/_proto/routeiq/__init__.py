"""Generated from proto/ by scripts/gen_stub_proto.py."""
