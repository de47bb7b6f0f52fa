"""The descriptor pool of the vendored Envoy / xDS stubs (envoy/, udpa/, validate/, xds/ here).

Private rather than protobuf's default pool, so that another copy of Envoy's protos imported in
the same interpreter (xds-protos, grpcio-csds, ...) never clashes with ours ("duplicate file
name" / "duplicate symbol"). The well-known types those files import are added first.
Written by hand (not generated); see proto/third_party/README.md.
"""

from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)

POOL = descriptor_pool.DescriptorPool()
for _wkt in (descriptor_pb2, any_pb2, duration_pb2, struct_pb2, timestamp_pb2, wrappers_pb2):
    POOL.AddSerializedFile(_wkt.DESCRIPTOR.serialized_pb)
