// Where rings live: /dev/shm/framering.<name> (FRAMERING_SHM_DIR overrides the directory, for
// tests on a private tmpfs), and which ring names are accepted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace framering::ring {

std::string shm_dir();
// A size in messages about rings and the shm directory, in MiB to one decimal ("94.9 MiB" for
// 99,557,376 bytes), never rounded up to a whole MiB a user would size /dev/shm by: the one
// spelling the writer and the ingest use.
std::string mib_text(std::uint64_t bytes);
// Throws RingError(kInvalidArgument) unless name matches [A-Za-z0-9_-]{1,48}.
void validate_ring_name(const std::string& name);
std::string segment_path(const std::string& name);
// The camera's packet ring beside its frame ring: /dev/shm/framering.<name>.packets.
std::string packet_segment_path(const std::string& name);
// Names of every ring segment in shm_dir() (not temp files or reader-stats files), sorted.
std::vector<std::string> list_rings();

// Removes segments whose writer died without cleaning up (no flock held, state not CLOSED) and
// reader-stats files of dead readers (no lock held: reader_alive(), whatever pid they name).
// Idempotent; returns how many files it removed. Live rings and rings closed and kept on purpose
// (`--keep`) are never touched. Only this user's regular files are considered (FIFOs, symlinks and
// other users' files planted under framering names are skipped without blocking), and a segment is
// unlinked only while cleanup_stale itself holds its flock on the inode it checked.
int cleanup_stale();

// Removes ring `name`'s segment if no writer holds its lock (whatever its state), under the same
// rules as cleanup_stale; true if it removed it.
bool remove_stale_ring(const std::string& name);

}  // namespace framering::ring
