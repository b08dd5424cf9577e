"""Turns a .proto into C++ protobuf and gRPC libraries with the system tools.

Bazel 4.2.3 offline has no usable rules_proto here, so Debian's `protoc` and
`grpc_cpp_plugin` run from a genrule and a cc_library wraps what they write.
Import paths (and C++ #include paths) are relative to the calling package:
`proto/snaptun/v1/snaptun.proto` is imported as `snaptun/v1/snaptun.proto`.
"""

def cc_grpc_proto_library(name, src, grpc = True, deps = [], visibility = None):
    """Declares `name`, a cc_library holding the generated code of `src`.

    Args:
      name: the cc_library's name.
      src: the .proto file, relative to this package.
      grpc: also generate service stubs.
      deps: other cc_grpc_proto_library targets whose protos `src` imports.
      visibility: passed through.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    grpc_flags = "--grpc_out=$$out --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin" if grpc else ""
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = ("src=$(location {src}); root=$${{src%/{src}}}; out=$(GENDIR)/$$root; " +
               "/usr/bin/protoc -I$$root -I/usr/include --cpp_out=$$out {grpc} $$src").format(
            src = src,
            grpc = grpc_flags,
        ),
        message = "protoc " + src,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + [
            "//third_party/system:grpc++",
            "//third_party/system:protobuf",
        ],
        visibility = visibility,
    )
