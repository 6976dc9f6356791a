/*
 * imgcmp-jpeg-grey: decodes JPEG files straight to a small greyscale image, for hashing.
 *
 * Why a helper of our own: a perceptual hash needs only a 32 × 32 grey thumbnail, and libjpeg
 * can decode a JPEG at 1/2, 1/4 or 1/8 of its size (the DCT scaled in the decoder) and give the
 * luma channel alone, skipping the colour work. That is what Pillow's draft mode does. sharp
 * (libvips) decodes to colour at the scaled size and costs a few ms of CPU per call whatever
 * the image, many times the whole decode of a small JPEG. This process runs for a whole
 * fingerprint run, so nothing is paid per image but the decode itself.
 *
 * Protocol, on standard input and output, native byte order (the parent is on the same machine):
 *   request: u32 path length, u32 thumbnail side S, u32 slot, the path's bytes
 *            (S with HASH_REQUEST set: the views' bits instead of the thumbnail, see below)
 *   setup:   u32 length, u32 SETUP_REQUEST, u32 0, then length bytes of doubles: the hash
 *            recipe (settings and constants, as hash/native-spec.ts writes them) that the hash
 *            requests after it use; no reply
 *   reply:   u32 status, u32 width, u32 height, u32 orientation, u32 length, then the file's
 *            size (u64) and modification time (i64 seconds, u32 nanoseconds) as the file
 *            descriptor it read has them (0 where the file was not read), then u32 where: 0
 *            when the length bytes follow on standard output, 1 when they were written to the
 *            shared file at offset slot × SLOT_BYTES instead (see below).
 *
 * The shared file: started as `imgcmp-jpeg-grey MAX_PIXELS SHARED_FD`, the helper writes a
 * decoded thumbnail of at most SLOT_BYTES to that open file (imgcmp's, created for it and
 * already unlinked) at the slot the request names, unless the slot is NO_SLOT, and sends only
 * the reply's head. imgcmp reads it from there with one system call into the buffer it hashes
 * from: a 128-pixel thumbnail is 128 KiB of doubles, which through the socket cost imgcmp's main
 * thread more (three reads, their buffers and the stream's events) than the hashing of a view.
 * imgcmp gives each request in flight its own slot, so a reply is never overwritten before it
 * is read. Reasons (status 1, 2) always follow on standard output.
 *     status 0: decoded; the bytes are the S × S thumbnail, row-major, as doubles: the picture
 *               decoded at the largest libjpeg scale 1/k (k = 8, 4, 2, 1) that keeps both sides
 *               ≥ S (exactly what a full decode at that scale gives; width × height is that
 *               size), resampled by a triangle filter as Pillow's BILINEAR. orientation is the
 *               EXIF orientation (1–8, 1 when absent or unreadable), not applied.
 *     status 1: not for this decoder (not a regular file, not a JPEG, a colour space libjpeg
 *               cannot turn into grey, more pixels than the limit); the bytes are the reason.
 *     status 2: the decoder failed or warned of corrupt data; the bytes are libjpeg's message.
 *     status 3: a hash request this helper cannot answer (no recipe or a malformed one, or a
 *               source side other than the recipe's); imgcmp then asks for the thumbnail.
 * A hash request (side S | HASH_REQUEST) decodes the same S × S thumbnail and replies, with
 * status 0, the phash bits of all its views (view-bits.c: a word of flags, then the views' and
 * the coarse views' packed words, u32 each) through standard output instead of the thumbnail.
 * The parent decodes every file that gets status 1 or 2 with sharp instead, whose verdict then
 * stands, so this helper never decides alone that a file is bad.
 *
 * Usage: imgcmp-jpeg-grey MAX_PIXELS [SHARED_FD]
 * With IMGCMP_JPEG_WHOLE_FILES set, progressive files are decoded whole (for the tests).
 */
#define _GNU_SOURCE /* st_mtim, pwrite */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "view-bits.h"

#ifdef __APPLE__
#define st_mtim st_mtimespec
#endif

#ifdef __GLIBC__
#include <malloc.h>
#endif

enum { STATUS_OK = 0, STATUS_NOT_MINE = 1, STATUS_FAILED = 2, STATUS_NO_HASH = 3 };
static const uint32_t HASH_REQUEST = 0x80000000u, SETUP_REQUEST = 0xFFFFFFFFu;

struct failure {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr cinfo) {
  struct failure *f = (struct failure *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, f->message);
  longjmp(f->jump, 1);
}

/* Warnings (level -1) mean corrupt data that libjpeg papers over: refuse, sharp then decides. */
static void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

static uint32_t read_u16(const JOCTET *p, int big) { return big ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]); }
static uint32_t read_u32(const JOCTET *p, int big) {
  return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
             : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* EXIF orientation (tag 0x0112 in IFD0) of an APP1 segment; 1 when absent or malformed. */
static unsigned exif_orientation(const JOCTET *data, unsigned length) {
  if (length < 14 || memcmp(data, "Exif\0\0", 6) != 0) return 1;
  const JOCTET *tiff = data + 6;
  unsigned size = length - 6;
  int big;
  if (tiff[0] == 'M' && tiff[1] == 'M') big = 1;
  else if (tiff[0] == 'I' && tiff[1] == 'I') big = 0;
  else return 1;
  uint32_t ifd = read_u32(tiff + 4, big);
  if (ifd > size - 2) return 1;
  unsigned entries = read_u16(tiff + ifd, big);
  for (unsigned i = 0; i < entries; i++) {
    uint32_t at = ifd + 2 + 12 * i;
    if (at > size - 12) return 1;
    if (read_u16(tiff + at, big) == 0x0112 && read_u16(tiff + at + 2, big) == 3 /* SHORT */) {
      unsigned value = read_u16(tiff + at + 8, big);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/*
 * The JPEG in[0, n) without its AC scans, written to out (n bytes at least); its length, or 0
 * when the stream is not laid out as expected (the caller then decodes the file as it is).
 *
 * Why: at 1/8 scale each output pixel is its block's DC coefficient alone. A progressive JPEG
 * sends the DC coefficients in scans of their own (Ss = 0), and the AC scans are most of the
 * file and of the decoding work; libjpeg's own scan scripts even send the last bit of DC after
 * most AC scans. Dropping the AC scans' bytes (found by their markers, without decoding them)
 * leaves a valid progressive JPEG whose 1/8-scale pixels are exactly those of the whole file.
 */
static size_t without_ac_scans(const JOCTET *in, size_t n, JOCTET *out) {
  size_t i = 2, o = 2;
  memcpy(out, in, 2); /* SOI */
  while (i + 2 <= n) {
    if (in[i] != 0xFF) return 0;
    unsigned marker = in[i + 1];
    if (marker == 0xFF) { /* fill byte */
      i++;
      continue;
    }
    if (marker == 0xD9) { /* EOI */
      memcpy(out + o, in + i, 2);
      return o + 2;
    }
    if (i + 4 > n) return 0;
    size_t end = i + 2 + ((size_t)in[i + 2] << 8 | in[i + 3]);
    if (end > n) return 0;
    int keep = 1;
    if (marker == 0xDA) { /* SOS: Ns, Ns component selectors, then Ss */
      size_t ss = i + 5 + 2 * (size_t)in[i + 4];
      if (ss >= end) return 0;
      keep = in[ss] == 0;
    }
    if (keep) {
      memcpy(out + o, in + i, end - i);
      o += end - i;
    }
    i = end;
    if (marker == 0xDA) { /* entropy-coded data: up to a marker other than RSTn and stuffed 0xFF00 */
      size_t start = i;
      while (i + 1 < n && !(in[i] == 0xFF && in[i + 1] != 0 && !(in[i + 1] >= 0xD0 && in[i + 1] <= 0xD7))) i++;
      if (keep) {
        memcpy(out + o, in + start, i - start);
        o += i - start;
      }
    }
  }
  return 0;
}

static int write_all(const void *data, size_t length) { return fwrite(data, 1, length, stdout) == length ? 0 : -1; }

/* The stats of the file a reply is about, as imgcmp records them (size and modification time). */
struct stamp {
  uint64_t size;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
};

enum { SLOT_BYTES = 1 << 20 };
static const uint32_t NO_SLOT = 0xFFFFFFFFu;
static int shared_fd = -1; /* the shared file, when imgcmp gave one */

/* Writes bytes to the shared file at the slot; 0 when done (the caller then sends the head alone). */
static int write_shared(uint32_t slot, const void *bytes, uint32_t length) {
  if (shared_fd < 0 || slot == NO_SLOT || length > SLOT_BYTES) return -1;
  off_t at = (off_t)slot * SLOT_BYTES;
  for (uint32_t done = 0; done < length;) {
    ssize_t n = pwrite(shared_fd, (const char *)bytes + done, length - done, at + done);
    if (n <= 0) return -1;
    done += (uint32_t)n;
  }
  return 0;
}

static int reply(uint32_t status, uint32_t width, uint32_t height, uint32_t orientation, const struct stamp *stamp, const void *bytes, uint32_t length, uint32_t slot) {
  uint32_t head[11] = {status, width, height, orientation, length};
  if (stamp) {
    memcpy(head + 5, &stamp->size, 8);
    memcpy(head + 7, &stamp->mtime_sec, 8);
    head[9] = stamp->mtime_nsec;
  }
  head[10] = length && write_shared(slot, bytes, length) == 0;
  if (write_all(head, sizeof head) || (length && !head[10] && write_all(bytes, length))) return -1;
  return fflush(stdout);
}

static int reply_text(uint32_t status, const char *text) { return reply(status, 0, 0, 1, NULL, text, (uint32_t)strlen(text), NO_SLOT); }

/*
 * Triangle-filter (bilinear) taps from in_size samples to out_size, widened by the reduction
 * factor when shrinking so that every sample counts: Pillow's BILINEAR. For output o: count[o]
 * weights from source index first[o], at weights[o * stride]. Returns the stride, 0 when out of
 * memory.
 */
static unsigned triangle_taps(unsigned in_size, unsigned out_size, unsigned **first, unsigned **count, double **weights) {
  double scale = (double)in_size / out_size;
  double widen = scale > 1 ? scale : 1;
  double support = widen; /* the triangle reaches ±1 before widening */
  unsigned stride = (unsigned)ceil(support) * 2 + 1;
  *first = malloc(out_size * sizeof **first);
  *count = malloc(out_size * sizeof **count);
  *weights = calloc((size_t)out_size * stride, sizeof **weights);
  if (!*first || !*count || !*weights) return 0;
  for (unsigned o = 0; o < out_size; o++) {
    double center = (o + 0.5) * scale;
    double lo_edge = floor(center - support + 0.5), hi_edge = floor(center + support + 0.5);
    unsigned lo = lo_edge > 0 ? (unsigned)lo_edge : 0;
    unsigned hi = hi_edge < in_size ? (unsigned)hi_edge : in_size;
    double *w = *weights + (size_t)o * stride, sum = 0;
    for (unsigned i = lo; i < hi; i++) {
      double v = 1 - fabs((i + 0.5 - center) / widen);
      w[i - lo] = v > 0 ? v : 0;
      sum += w[i - lo];
    }
    for (unsigned i = lo; i < hi; i++) w[i - lo] /= sum;
    (*first)[o] = lo;
    (*count)[o] = hi - lo;
  }
  return stride;
}

/* One row's horizontal pass: out[c] = 0 + Σ_t wt[t][c] · line[at[t][c]], over t in order. */
VECTOR_CLONES static void row_taps(const double *restrict line, const unsigned *restrict at, const double *restrict wt, unsigned most, unsigned side, double *restrict out) {
  for (unsigned c = 0; c < side; c++) out[c] = 0;
  for (unsigned t = 0; t < most; t++) {
    const unsigned *restrict a = at + (size_t)t * side;
    const double *restrict w = wt + (size_t)t * side;
    for (unsigned c = 0; c < side; c++) out[c] += w[c] * line[a[c]];
  }
}

/*
 * The width × height grey image resampled to side × side (aspect ratio not kept, as imgcmp does)
 * by a separable triangle filter, unrounded; 0 when out of memory. Rows first, then columns, in
 * a fixed order of summation, so that its results are the same on every machine.
 */
static int triangle_resize(const JSAMPLE *pixels, unsigned width, unsigned height, unsigned side, double *out) {
  unsigned *a_first = NULL, *a_count = NULL, *d_first = NULL, *d_count = NULL;
  double *a_weights = NULL, *d_weights = NULL;
  double *rows = malloc((size_t)height * side * sizeof *rows);
  unsigned a_stride = triangle_taps(width, side, &a_first, &a_count, &a_weights);
  unsigned d_stride = triangle_taps(height, side, &d_first, &d_count, &d_weights);
  double *line = malloc((size_t)width * sizeof *line);
  unsigned *at = NULL;
  double *wt = NULL;
  unsigned most = 0;
  for (unsigned c = 0; a_count && c < side; c++)
    if (a_count[c] > most) most = a_count[c];
  at = malloc((size_t)most * side * sizeof *at);
  wt = malloc((size_t)most * side * sizeof *wt);
  int ok = rows && a_stride && d_stride && line && at && wt;
  if (ok) {
    /*
     * Tap t of column c at at[t * side + c], wt[t * side + c]: every column given `most` taps,
     * the missing ones of weight 0 (at the column's first pixel). A term 0 · p adds +0, which
     * changes no sum (every term is ≥ 0: so no sum is −0), and the loop over the columns runs
     * the same for each, so that the compiler can vectorise it; each sum is still 0 + w0 · p0 +
     * w1 · p1 + …, its taps in order.
     */
    for (unsigned t = 0; t < most; t++)
      for (unsigned c = 0; c < side; c++) {
        int real = t < a_count[c];
        at[t * side + c] = a_first[c] + (real ? t : 0);
        wt[t * side + c] = real ? a_weights[(size_t)c * a_stride + t] : 0;
      }
    for (unsigned r = 0; r < height; r++) {
      const JSAMPLE *row = pixels + (size_t)r * width;
      for (unsigned i = 0; i < width; i++) line[i] = row[i];
      row_taps(line, at, wt, most, side, rows + (size_t)r * side);
    }
    for (unsigned r = 0; r < side; r++) {
      const double *w = d_weights + (size_t)r * d_stride;
      double *dst = out + (size_t)r * side;
      /* each output 0 + w0 · a + w1 · b + …, as from a zeroed output (without zeroing it first) */
      if (d_count[r] == 0)
        for (unsigned c = 0; c < side; c++) dst[c] = 0;
      for (unsigned t = 0; t < d_count[r]; t++) {
        const double *src = rows + (size_t)(d_first[r] + t) * side;
        if (t == 0)
          for (unsigned c = 0; c < side; c++) dst[c] = 0 + w[t] * src[c];
        else
          for (unsigned c = 0; c < side; c++) dst[c] += w[t] * src[c];
      }
    }
  }
  free(rows);
  free(line);
  free(at);
  free(wt);
  free(a_first);
  free(a_count);
  free(a_weights);
  free(d_first);
  free(d_count);
  free(d_weights);
  return ok;
}

/*
 * The whole file in memory (one read, not libjpeg's 4 KiB at a time), with its stats; NULL if it
 * cannot be read or is no regular file. Opened without blocking and checked by fstat before any
 * read, so that a FIFO, socket or device (or a file swapped for one) never blocks the helper:
 * imgcmp leaves these checks to the helper for the files it sends (and reports such a file,
 * which the helper declines, in the file system's words).
 */
static JOCTET *read_file(const char *path, size_t *length, struct stamp *stamp, const char **why) {
  *why = "cannot read";
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  JOCTET *data = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fstat(fd, &st) == 0) *why = "not a regular file";
    close(fd);
    return NULL;
  }
  size_t size = (size_t)st.st_size, got = 0;
  if (size > 0 && (data = malloc(size))) {
    while (got < size) {
      ssize_t n = read(fd, data + got, size - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got == 0) {
      free(data);
      data = NULL;
    }
  }
  close(fd);
  *length = got;
  stamp->size = (uint64_t)st.st_size;
  stamp->mtime_sec = (int64_t)st.st_mtim.tv_sec;
  stamp->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
  return data;
}

/*
 * Decodes one file and writes its reply (with `hash`, the bits of its views instead of its
 * thumbnail); returns -1 only when standard output is gone.
 */
static int decode(const char *path, uint32_t side, uint32_t slot, double max_pixels, int whole_files, const struct view_spec *hash) {
  if (side == 0 || side > 4096) return reply_text(STATUS_NOT_MINE, "thumbnail side out of range");
  size_t length = 0;
  struct stamp stamp = {0, 0, 0};
  const char *why;
  JOCTET *data = read_file(path, &length, &stamp, &why);
  if (!data) return reply_text(STATUS_NOT_MINE, why);
  if (length < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
    free(data);
    return reply_text(STATUS_NOT_MINE, "not a JPEG");
  }

  struct jpeg_decompress_struct cinfo;
  struct failure failure;
  /* volatile: assigned after setjmp and read after the longjmp back to it */
  JSAMPLE *volatile pixels = NULL;
  JOCTET *volatile reduced = NULL;
  volatile uint32_t status = STATUS_FAILED;
  cinfo.err = jpeg_std_error(&failure.mgr);
  failure.mgr.error_exit = on_error;
  failure.mgr.emit_message = on_message;
  if (setjmp(failure.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(data);
    free(reduced);
    free(pixels);
    return reply_text(status, failure.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, length);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);

  if ((double)cinfo.image_width * cinfo.image_height > max_pixels) {
    strcpy(failure.message, "more pixels than the limit");
    status = STATUS_NOT_MINE;
    longjmp(failure.jump, 1);
  }
  if (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_GRAYSCALE) {
    strcpy(failure.message, "colour space other than YCbCr or grey");
    status = STATUS_NOT_MINE;
    longjmp(failure.jump, 1);
  }
  unsigned orientation = 1;
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) {
      orientation = exif_orientation(m->data, m->data_length);
      if (orientation != 1) break;
    }
  }

  /* The smallest image libjpeg can give with both sides still at least the thumbnail's. */
  unsigned k = 8;
  while (k > 1 && ((double)cinfo.image_width / k < side || (double)cinfo.image_height / k < side)) k /= 2;
  if (k == 8 && cinfo.progressive_mode && !whole_files) {
    reduced = malloc(length);
    size_t kept = reduced ? without_ac_scans(data, length, reduced) : 0;
    if (kept) {
      jpeg_abort_decompress(&cinfo);
      jpeg_mem_src(&cinfo, reduced, kept);
      jpeg_read_header(&cinfo, TRUE);
    }
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = k;
  cinfo.out_color_space = JCS_GRAYSCALE;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_block_smoothing = FALSE; /* it would guess missing AC coefficients; it has none to guess in a whole file */
  jpeg_start_decompress(&cinfo);

  uint32_t width = cinfo.output_width, height = cinfo.output_height;
  pixels = malloc((size_t)width * height);
  if (!pixels) {
    strcpy(failure.message, "out of memory");
    longjmp(failure.jump, 1);
  }
  while (cinfo.output_scanline < height) {
    JSAMPROW row = pixels + (size_t)cinfo.output_scanline * width;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(data);
  free(reduced);
  double *thumbnail = malloc((size_t)side * side * sizeof *thumbnail);
  int resized = thumbnail && triangle_resize(pixels, width, height, side, thumbnail);
  free(pixels);
  int written;
  if (!resized) written = reply_text(STATUS_FAILED, "out of memory");
  else if (!hash) written = reply(STATUS_OK, width, height, orientation, &stamp, thumbnail, side * side * sizeof *thumbnail, slot);
  else {
    size_t n = view_spec_reply_words(hash);
    uint32_t *words = malloc(n * sizeof *words);
    if (words && view_bits(hash, thumbnail, orientation, width, height, words) == 0)
      written = reply(STATUS_OK, width, height, orientation, &stamp, words, (uint32_t)(n * sizeof *words), NO_SLOT);
    else
      written = reply_text(STATUS_FAILED, "out of memory");
    free(words);
  }
  free(thumbnail);
  return written;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s MAX_PIXELS [SHARED_FD]\n", argv[0]);
    return 2;
  }
  if (argc == 3) {
    /* Only a regular file: a descriptor of anything else is left alone, and replies go on stdout. */
    struct stat st;
    int fd = atoi(argv[2]);
    if (fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) shared_fd = fd;
  }
#ifdef __GLIBC__
  /*
   * libjpeg's buffers for a large progressive file run to tens of MB, which glibc would map
   * afresh for every file and unmap after it; the kernel's page faults and page clearing then
   * cost more than the decoding. Kept in the heap, they are reused from one file to the next.
   */
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  /*
   * Room on standard output for a few hundred replies of bits (1.5 KiB each under find's
   * settings): with the default (about a hundred), a helper stopped, its reply unwritten,
   * whenever imgcmp's thread was busy for a while (loading HDF5, say). Node hands its children a
   * socket; a pipe where it is one. Where more cannot be had, it stays as it is.
   */
  struct stat out;
  if (fstat(STDOUT_FILENO, &out) == 0 && S_ISSOCK(out.st_mode)) {
    int bytes = 4 << 20;
    setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
#ifdef F_SETPIPE_SZ
  else if (S_ISFIFO(out.st_mode))
    fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
#endif
  double max_pixels = strtod(argv[1], NULL);
  /* For the tests: decode progressive files whole, to show that dropping AC scans changes nothing. */
  int whole_files = getenv("IMGCMP_JPEG_WHOLE_FILES") != NULL;
  uint32_t head[3];
  char *path = NULL;
  struct view_spec *hash = NULL;
  while (fread(head, sizeof head, 1, stdin) == 1) {
    char *grown = realloc(path, (size_t)head[0] + 1);
    if (!grown) return 1;
    path = grown;
    if (head[0] && fread(path, head[0], 1, stdin) != 1) break;
    path[head[0]] = '\0';
    if (head[1] == SETUP_REQUEST) {
      /* A new recipe for the hash requests that follow (none when it is malformed: they get status 3). */
      view_spec_free(hash);
      hash = NULL;
      if (head[0] % sizeof(double) == 0) {
        double *spec = malloc(head[0] + sizeof(double));
        if (spec) {
          memcpy(spec, path, head[0]);
          hash = view_spec_parse(spec, head[0] / sizeof(double));
        }
        free(spec);
      }
      continue;
    }
    int hashed = (head[1] & HASH_REQUEST) != 0;
    uint32_t side = head[1] & ~HASH_REQUEST;
    int failed = hashed && (!hash || view_spec_source_side(hash) != side)
                     ? reply_text(STATUS_NO_HASH, "no hash recipe for this request") != 0
                     : decode(path, side, head[2], max_pixels, whole_files, hashed ? hash : NULL) != 0;
    if (failed) break;
  }
  view_spec_free(hash);
  free(path);
  return 0;
}
