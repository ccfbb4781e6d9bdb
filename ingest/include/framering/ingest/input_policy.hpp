// What libav may open for each kind of source. A "video file" can be a playlist or list (HLS,
// DASH, concat, IMF, SDP) that makes libavformat fetch URLs or read other local files, and a
// `testsrc:` graph can hold filters that open files or sockets (movie, sendcmd, zmq, drawtext's
// textfile, ...). These rules are the ingest's whole reach: nothing else is opened.
#pragma once

#include <string>
#include <string_view>

#include "framering/ingest/source_spec.hpp"

namespace framering::ingest {

// libavformat's protocol_whitelist for `kind`: "file" for files; the RTSP transports (rtsp,
// rtsps, rtp, srtp, tcp, udp, tls) for cameras; "none" for generated test patterns and npy
// (which libav never opens).
const char* protocol_whitelist(SourceKind kind);

// True for demuxers that open resources other than the one they were given (playlists, lists,
// session descriptions, script engines, lavfi): never accepted for a file source.
bool opens_other_resources(std::string_view demuxer_name);

// The first filter of a lavfi graph that a `testsrc:` source may not use, or "" when all are
// allowed. Allowed are generators and in-memory processing, none of which reads or writes a
// file, opens a socket or loads a plugin. Filter names are split out the way libavfilter does
// (quotes and backslashes protect ',' ';' '[' inside arguments).
std::string first_disallowed_filter(std::string_view graph);

}  // namespace framering::ingest
