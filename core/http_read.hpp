#pragma once
// Reading an HTTP response with Beast so that the parser's body_limit holds. Include only from .cpp
// files (brings in Beast).
//
// Boost 1.74's basic_parser, handed a response's header and the first body bytes in one eager
// put (as http::async_read does), notes error::body_limit for a Content-Length over the limit but
// goes on into the body in the same call, where string_body reserves the whole Content-Length:
// "Content-Length: 3074457345618258602" and a few body bytes asked for 3 EB (found by the http
// fuzz target). A header read alone (async_read_header, which is not eager) stops at the error.

#include <cstddef>
#include <utility>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>

namespace kv::core {

// Reads the header, then (when the message has a body) the rest, into `parser`; `done(ec, bytes)`.
template <class AsyncStream, class DynamicBuffer, class Parser, class Handler>
void async_read_response(AsyncStream& stream, DynamicBuffer& buffer, Parser& parser, Handler done) {
  boost::beast::http::async_read_header(stream, buffer, parser,
                                        [&stream, &buffer, &parser, done = std::move(done)](
                                            boost::beast::error_code ec, std::size_t n) mutable {
                                          if (ec || parser.is_done())
                                            return done(ec, n);
                                          boost::beast::http::async_read(stream, buffer, parser,
                                                                         std::move(done));
                                        });
}

}  // namespace kv::core
