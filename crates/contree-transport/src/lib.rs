//! The hyper client behind the ConTree SDK: TLS, auth, retries, timeouts, SSE and streaming.
