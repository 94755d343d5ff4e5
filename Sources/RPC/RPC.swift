/// gRPC over HTTP/2 (nghttp2): the cluster's transport. See docs in this folder's files.
enum RPCModule {}
