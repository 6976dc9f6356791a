/*
 * The phash bits of every view of a decoded JPEG, in the helper (see view-bits.c): the same bits
 * as hash/view-fingerprints.ts computes from the same thumbnail.
 */
#ifndef IMGCMP_VIEW_BITS_H
#define IMGCMP_VIEW_BITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The loops where most of the time goes (independent sums side by side, each in its order),
 * compiled for the widest vectors the processor has, chosen when the helper starts.
 */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

struct view_spec;

/*
 * The settings and constants of one hash recipe, from imgcmp's setup message (doubles, laid out
 * as hash/native-spec.ts writes them); NULL when they are malformed or this build cannot compute
 * bit-exact results (floating point evaluated in a wider type).
 */
struct view_spec *view_spec_parse(const double *d, size_t n);
void view_spec_free(struct view_spec *s);

/* The side of the grey source the views are cut from. */
unsigned view_spec_source_side(const struct view_spec *s);

/* Words of a reply's body: a word of flags (bit 0: view 0 is flat), then every view's words, then every coarse view's. */
size_t view_spec_reply_words(const struct view_spec *s);

/*
 * The reply's body for an m × m source as decoded (m = view_spec_source_side), with the EXIF
 * orientation (1–8) that turns it upright and the size it was decoded at (its aspect); 0 when
 * done, -1 when out of memory.
 */
int view_bits(const struct view_spec *s, const double *stored, unsigned orientation, unsigned width, unsigned height, uint32_t *out);

#endif
