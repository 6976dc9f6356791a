/*
 * The phash bits of every view of a picture, from the grey source the JPEG helper decoded: the
 * same bits, word for word, as hash/view-fingerprints.ts gives from the same source.
 *
 * Why here: under find's settings imgcmp's own thread spent about 0.7 ms of CPU per JPEG on its
 * views (38 of 256 bits and their 64-bit coarse ones), on top of reading the helper's 128 KiB
 * thumbnail; the helper computes them in a fraction of that (the matrix products vectorised by
 * the compiler) and sends back 1.5 KiB of bits.
 *
 * The same bits, not merely close ones: every floating-point operation whose result decides a
 * bit is done here on the same values in the same order as in the TypeScript it mirrors (each
 * function names its model), in IEEE double precision without fused multiply-add (built with
 * -ffp-contract=off, never -ffast-math; a build whose doubles are evaluated in a wider type,
 * FLT_EVAL_METHOD ≠ 0, declines, and imgcmp hashes in TypeScript). Vectorising a loop across
 * independent sums does not change a sum; no sum is reordered. The constants that come from
 * Math.cos and Math.sin (the DCT matrix, the turns, the detail measure's start), whose last bit
 * may differ between libm and V8, come from imgcmp in its setup message (hash/native-spec.ts).
 * test/native-view-bits.test.ts compares the two on real pictures.
 */
#include "view-bits.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ORIENTATIONS = 8, RANK = 3, ITERATIONS = 20, MAX_CROPS = 8, MAX_EDITS = 16 };
enum { EDIT_STRAIGHTEN = 0, EDIT_GROWN = 1, EDIT_STRIP_BOTTOM = 2, EDIT_STRIP_TOP = 3 };

struct edit_view {
  int kind;
  double deg, cos_t, sin_t, cos_abs, sin_abs, cos_2abs;
};

struct view_spec {
  unsigned x, cx, m, side, cside;
  int orientations, borders, edits;
  double strip, low_detail, frame_tolerance, frame_line_share, frame_min, frame_max, flat_std;
  unsigned ncrops, nedits;
  double crops[MAX_CROPS];
  struct edit_view edit[MAX_EDITS];
  double *dct;         /* x × side: c[k][i] */
  double *dct_t;       /* side × x: its transpose */
  double *cdct;        /* cx × cside */
  double *cdct_t;      /* cside × cx */
  double *detail_start; /* RANK × side, column-major as detail.ts lays it out */
};

static int whole_number(double v, double lo, double hi) { return v >= lo && v <= hi && v == floor(v); }

/* spec: version 1, then as hash/native-spec.ts lays it out. */
struct view_spec *view_spec_parse(const double *d, size_t n) {
#if FLT_EVAL_METHOD != 0
  (void)d;
  (void)n;
  return NULL;
#else
  if (n < 16 || d[0] != 1) return NULL;
  if (!whole_number(d[1], 1, 32) || !whole_number(d[2], 0, 32) || !whole_number(d[7], 2, 4096)) return NULL;
  struct view_spec *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->x = (unsigned)d[1];
  s->cx = (unsigned)d[2];
  s->orientations = d[3] != 0;
  int crops = d[4] != 0;
  s->borders = d[5] != 0;
  s->edits = d[6] != 0;
  s->m = (unsigned)d[7];
  s->side = 4 * s->x;
  s->cside = 4 * s->cx;
  s->strip = d[8];
  s->low_detail = d[9];
  s->frame_tolerance = d[10];
  s->frame_line_share = d[11];
  s->frame_min = d[12];
  s->frame_max = d[13];
  s->flat_std = d[14];
  size_t at = 15;
  /* Only the recipe this mirrors: views cut from a larger source; coarse views halved from the views. */
  int ok = s->side <= s->m && (s->cx == 0 || 2 * s->cside == s->side) && whole_number(d[at], 1, MAX_CROPS);
  if (ok) {
    s->ncrops = (unsigned)d[at++];
    ok = at + s->ncrops < n && d[at] == 1 && (crops ? s->ncrops >= 1 : s->ncrops == 1);
  }
  for (unsigned i = 0; ok && i < s->ncrops; i++) {
    s->crops[i] = d[at++];
    ok = s->crops[i] > 0 && s->crops[i] <= 1;
  }
  ok = ok && at < n && whole_number(d[at], 0, MAX_EDITS);
  if (ok) s->nedits = (unsigned)d[at++];
  ok = ok && (s->edits || s->nedits == 0) && at + 7 * (size_t)s->nedits <= n;
  for (unsigned i = 0; ok && i < s->nedits; i++, at += 7) {
    struct edit_view *e = &s->edit[i];
    ok = whole_number(d[at], 0, 3);
    e->kind = (int)d[at];
    e->deg = d[at + 1];
    e->cos_t = d[at + 2];
    e->sin_t = d[at + 3];
    e->cos_abs = d[at + 4];
    e->sin_abs = d[at + 5];
    e->cos_2abs = d[at + 6];
  }
  size_t want = at + (size_t)s->x * s->side + (size_t)s->cx * s->cside + (s->edits ? (size_t)RANK * s->side : 0);
  ok = ok && want == n;
  if (ok) {
    s->dct = malloc((size_t)s->x * s->side * sizeof(double));
    s->dct_t = malloc((size_t)s->x * s->side * sizeof(double));
    s->cdct = malloc(((size_t)s->cx * s->cside + 1) * sizeof(double));
    s->cdct_t = malloc(((size_t)s->cx * s->cside + 1) * sizeof(double));
    s->detail_start = malloc((size_t)RANK * s->side * sizeof(double));
    ok = s->dct && s->dct_t && s->cdct && s->cdct_t && s->detail_start;
  }
  if (ok) {
    memcpy(s->dct, d + at, (size_t)s->x * s->side * sizeof(double));
    at += (size_t)s->x * s->side;
    for (unsigned k = 0; k < s->x; k++)
      for (unsigned j = 0; j < s->side; j++) s->dct_t[j * s->x + k] = s->dct[k * s->side + j];
    memcpy(s->cdct, d + at, (size_t)s->cx * s->cside * sizeof(double));
    at += (size_t)s->cx * s->cside;
    for (unsigned k = 0; k < s->cx; k++)
      for (unsigned j = 0; j < s->cside; j++) s->cdct_t[j * s->cx + k] = s->cdct[k * s->cside + j];
    if (s->edits) memcpy(s->detail_start, d + at, (size_t)RANK * s->side * sizeof(double));
  }
  if (!ok) {
    view_spec_free(s);
    return NULL;
  }
  return s;
#endif
}

void view_spec_free(struct view_spec *s) {
  if (!s) return;
  free(s->dct);
  free(s->dct_t);
  free(s->cdct);
  free(s->cdct_t);
  free(s->detail_start);
  free(s);
}

unsigned view_spec_source_side(const struct view_spec *s) { return s->m; }

static unsigned words_for(unsigned nbits) { return (nbits + 31) >> 5; }
static unsigned classes_of(const struct view_spec *s) { return s->ncrops + (s->borders ? 1 : 0); }
static unsigned views_of(const struct view_spec *s) { return (s->orientations ? ORIENTATIONS : 1) * classes_of(s) + s->nedits; }

size_t view_spec_reply_words(const struct view_spec *s) {
  return 1 + (size_t)views_of(s) * (words_for(s->x * s->x) + (s->cx ? words_for(s->cx * s->cx) : 0));
}

/* ---- views.ts: rectangles, taps, resampling, frames, turns ---- */

struct rect {
  double top, bottom, left, right;
};

/* views.ts taps: area-averaging taps of source positions [a0, a1) of m into side outputs. */
struct taps {
  int first[4097];
  int *index;
  double *weight;
};

static int make_taps(struct taps *t, unsigned m, unsigned side, double a0, double a1) {
  double step = (a1 - a0) / side;
  size_t most = (size_t)side * ((size_t)ceil(step) + 2);
  t->index = malloc(most * sizeof *t->index);
  t->weight = malloc(most * sizeof *t->weight);
  if (!t->index || !t->weight) return -1;
  int count = 0;
  t->first[0] = 0;
  for (unsigned o = 0; o < side; o++) {
    double a = a0 + o * step;
    double b = a + step;
    for (double i = floor(a); i < ceil(b); i++) {
      double w = fmin(b, i + 1) - fmax(a, i);
      if (w > 1e-12 && (size_t)count < most) {
        t->index[count] = (int)(m - 1 < i ? m - 1 : i);
        t->weight[count] = w / step;
        count++;
      }
    }
    t->first[o + 1] = count;
  }
  return 0;
}

static void free_taps(struct taps *t) {
  free(t->index);
  free(t->weight);
}

/*
 * The horizontal pass of views.ts resampleRect: source rows y0 to y1 resampled by the column
 * taps into rows (side values a row), each value 0 + w0 · a + w1 · b + …, the taps in order.
 * Every column is given the same number of taps, the missing ones of weight 0 at the column's
 * first index: a term 0 · p adds +0, which changes no sum here (every term is ≥ 0, the
 * source's pixels being grey levels, so no sum is −0), and the loops have no branch that
 * varies from column to column.
 */
VECTOR_CLONES static void horizontal(const double *restrict src, unsigned m, unsigned side, const struct taps *col, int y0, int y1, double *restrict rows, int *restrict idx, double *restrict wt) {
  int most = 0;
  for (unsigned c = 0; c < side; c++)
    if (col->first[c + 1] - col->first[c] > most) most = col->first[c + 1] - col->first[c];
  if (most > 4) {
    for (int y = y0; y <= y1; y++) {
      const double *base = src + (size_t)y * m;
      for (unsigned c = 0; c < side; c++) {
        double v = 0;
        for (int k = col->first[c]; k < col->first[c + 1]; k++) v += col->weight[k] * base[col->index[k]];
        rows[(size_t)y * side + c] = v;
      }
    }
    return;
  }
  /* idx[t * side + c], wt[t * side + c]: tap t of column c */
  for (int t = 0; t < most; t++)
    for (unsigned c = 0; c < side; c++) {
      int k = col->first[c] + t, real = k < col->first[c + 1];
      idx[t * side + c] = col->index[real ? k : col->first[c]];
      wt[t * side + c] = real ? col->weight[k] : 0;
    }
  for (int y = y0; y <= y1; y++) {
    const double *restrict base = src + (size_t)y * m;
    double *restrict out = rows + (size_t)y * side;
    switch (most) {
      case 1:
        for (unsigned c = 0; c < side; c++) out[c] = 0 + wt[c] * base[idx[c]];
        break;
      case 2:
        for (unsigned c = 0; c < side; c++) out[c] = 0 + wt[c] * base[idx[c]] + wt[side + c] * base[idx[side + c]];
        break;
      case 3:
        for (unsigned c = 0; c < side; c++) out[c] = 0 + wt[c] * base[idx[c]] + wt[side + c] * base[idx[side + c]] + wt[2 * side + c] * base[idx[2 * side + c]];
        break;
      default:
        for (unsigned c = 0; c < side; c++)
          out[c] = 0 + wt[c] * base[idx[c]] + wt[side + c] * base[idx[side + c]] + wt[2 * side + c] * base[idx[2 * side + c]] + wt[3 * side + c] * base[idx[3 * side + c]];
    }
  }
}

/* The vertical pass: each output 0 plus the weighted rows, the row taps in order. */
VECTOR_CLONES static void vertical(const double *restrict rows, unsigned side, const struct taps *row, double *restrict out) {
  for (unsigned y = 0; y < side; y++) {
    double *restrict o = out + (size_t)y * side;
    for (unsigned c = 0; c < side; c++) o[c] = 0;
    for (int k = row->first[y]; k < row->first[y + 1]; k++) {
      double w = row->weight[k];
      const double *restrict from = rows + (size_t)row->index[k] * side;
      for (unsigned c = 0; c < side; c++) o[c] += w * from[c];
    }
  }
}

/* One picture's resampling at one side: scratch, and the horizontal pass of the whole width, made once. */
struct sampling {
  const double *src;
  unsigned m, side;
  double *rows;  /* m × side */
  double *full;  /* m × side: the whole width's pass, once made */
  int full_made;
  int *idx;      /* 4 × side */
  double *wt;    /* 4 × side */
};

/*
 * views.ts resampleRect: the rectangle r of the source resampled to side × side into out. A
 * rectangle as wide as the picture (the whole view, the strips, a frame of bars above and below)
 * takes the one pass along the rows made for the whole width: its values depend on the column
 * taps alone.
 */
static int resample_rect(struct sampling *g, struct rect r, double *out) {
  unsigned m = g->m, side = g->side;
  struct taps col = {0}, row = {0};
  int whole_width = r.left == 0 && r.right == m;
  int ok = make_taps(&row, m, side, r.top, r.bottom) == 0 && (whole_width && g->full_made ? 1 : make_taps(&col, m, side, r.left, r.right) == 0);
  if (ok) {
    if (whole_width) {
      if (!g->full_made) horizontal(g->src, m, side, &col, 0, (int)m - 1, g->full, g->idx, g->wt);
      g->full_made = 1;
      vertical(g->full, side, &row, out);
    } else {
      int n = row.first[side];
      int y0 = n ? row.index[0] : 0;
      int y1 = n ? row.index[n - 1] : -1;
      horizontal(g->src, m, side, &col, y0, y1, g->rows, g->idx, g->wt);
      vertical(g->rows, side, &row, out);
    }
  }
  free_taps(&col);
  free_taps(&row);
  return ok ? 0 : -1;
}

/* views.ts centralRect */
static struct rect central_rect(unsigned m, double fraction) {
  double start = (m - m * fraction) / 2;
  struct rect r = {start, m - start, start, m - start};
  return r;
}

/* views.ts frameOf's pixel of line `line` on side `side` (0 top, 1 bottom, 2 left, 3 right). */
static double frame_at(const double *p, unsigned m, int side, unsigned line, unsigned i) {
  unsigned k = side == 0 || side == 2 ? line : m - 1 - line;
  return side < 2 ? p[(size_t)k * m + i] : p[(size_t)i * m + k];
}

static double frame_share(const struct view_spec *s, const double *p, unsigned m, int side, unsigned line, double colour) {
  if (line >= m) return 0; /* beyond the picture: in TypeScript, no pixel (undefined) is near the colour */
  unsigned n = 0;
  for (unsigned i = 0; i < m; i++)
    if (fabs(frame_at(p, m, side, line, i) - colour) <= s->frame_tolerance) n++;
  return (double)n / m;
}

static double select_kth(double *a, int n, int k);

/* The median of the outermost line: the element at m >> 1 of its sorted values, which a selection finds. */
static double frame_colour(const double *p, unsigned m, int side, double *line) {
  for (unsigned i = 0; i < m; i++) line[i] = frame_at(p, m, side, 0, i);
  return select_kth(line, (int)m, (int)(m >> 1));
}

static unsigned frame_run(const struct view_spec *s, const double *p, unsigned m, int side, double *line) {
  double colour = frame_colour(p, m, side, line);
  double limit = floor(s->frame_max * m);
  unsigned k = 0;
  while (k < limit && frame_share(s, p, m, side, k, colour) >= s->frame_line_share) k++;
  double least = ceil(s->frame_min * m);
  if (k < fmax(2, least) || k >= limit) return 0;
  if (frame_share(s, p, m, side, k + 2, colour) > 0.7) return 0;
  return k + 1;
}

/* views.ts frameOf: the rectangle inside a plain frame; 0 when no side has one. */
static int frame_of(const struct view_spec *s, const double *p, unsigned m, int symmetric, struct rect *r, double *line) {
  unsigned depth[4];
  for (int side = 0; side < 4; side++) depth[side] = frame_run(s, p, m, side, line);
  if (symmetric) {
    static const int pairs[4][2] = {{0, 1}, {1, 0}, {2, 3}, {3, 2}};
    for (int i = 0; i < 4; i++) {
      int a = pairs[i][0], b = pairs[i][1];
      if (depth[a] > 0 && depth[b] == 0) {
        double colour = frame_colour(p, m, a, line);
        int plain = 1;
        for (unsigned l = 0; l + 1 < depth[a] && plain; l++) plain = frame_share(s, p, m, b, l, colour) >= s->frame_line_share;
        if (plain) depth[b] = depth[a];
      }
    }
  }
  if (depth[0] + depth[1] + depth[2] + depth[3] == 0) return 0;
  r->top = depth[0];
  r->bottom = (double)m - depth[1];
  r->left = depth[2];
  r->right = (double)m - depth[3];
  return 1;
}

/* views.ts straightenKeep and grownKeep: the central shares (x, y) a turned view keeps. */
static void turn_keep(const struct edit_view *e, double aspect, double *fx, double *fy) {
  if (e->kind == EDIT_STRAIGHTEN) {
    double a = aspect / (aspect * e->cos_abs + e->sin_abs);
    double b = 1 / (aspect * e->sin_abs + e->cos_abs);
    *fx = *fy = a < b ? a : b; /* Math.min of two numbers, neither NaN */
  } else {
    double c2 = e->cos_2abs;
    double w = (aspect * e->cos_abs - e->sin_abs) / c2;
    double h = (e->cos_abs - aspect * e->sin_abs) / c2;
    double wx = w / aspect;
    *fx = wx > 0.5 ? wx : 0.5;
    *fy = h > 0.5 ? h : 0.5;
  }
}

/*
 * Where one row of views.ts turned's bilinear samples falls (ys, yc: the row's y · sin and
 * y · cos): for each sample, its source pixel's index and the fractions fu, fv, from the same
 * operations on the same values in the same order as the scalar expression (xc[px] = x · cos and
 * xs[px] = x · sin are the products it forms), in the processor's vectors. u, v ≥ 0 after the
 * clamp, so truncation is floor.
 */
VECTOR_CLONES static void turned_where(unsigned m, unsigned n, double aspect, const double *restrict xc, const double *restrict xs, double ys, double yc, int *restrict at, double *restrict fus, double *restrict fvs) {
  double c = m / 2.0, high = m - 1.0;
  int last = (int)m - 2, mm = (int)m;
  for (unsigned px = 0; px < n; px++) {
    double sx = xc[px] - ys;
    double sy = xs[px] + yc;
    double u = (sx / aspect) * m + c - 0.5;
    double v = sy * m + c - 0.5;
    u = u < 0 ? 0 : u > high ? high : u;
    v = v < 0 ? 0 : v > high ? high : v;
    int u0 = (int)u, v0 = (int)v;
    u0 = u0 > last ? last : u0;
    v0 = v0 > last ? last : v0;
    fus[px] = u - u0;
    fvs[px] = v - v0;
    at[px] = v0 * mm + u0;
  }
}

/*
 * One row of the samples: (p · (1 − fu) + p₁ · fu) · (1 − fv) + (…) · fv, as views.ts turned
 * computes them. Left scalar: vectorised, its four loads become gathers, slower here than the
 * loads themselves.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static void turned_row(const double *restrict src, unsigned m, unsigned n, double aspect, const double *restrict xc, const double *restrict xs, double ys, double yc, double *restrict row) {
  int at[1024];
  double fus[1024], fvs[1024];
  turned_where(m, n, aspect, xc, xs, ys, yc, at, fus, fvs);
  size_t mm = m;
  for (unsigned px = 0; px < n; px++) {
    const double *p = src + at[px];
    double fu = fus[px], fv = fvs[px];
    row[px] = (p[0] * (1 - fu) + p[1] * fu) * (1 - fv) + (p[mm] * (1 - fu) + p[mm + 1] * fu) * fv;
  }
}

/*
 * views.ts turned: bilinear samples at twice the side of the source turned by the edit's angle,
 * its central fx × fy share, then 2 × 2 means; big: (2 side)² doubles of scratch (the first 2n
 * the columns' products).
 */
static void turned(const double *src, unsigned m, unsigned side, const struct edit_view *e, double aspect, double fx, double fy, double *out, double *big) {
  double cosv = e->cos_t, sinv = e->sin_t;
  unsigned n = 2 * side;
  double *xc = big, *xs = big + n, *rows = big + 2 * n;
  for (unsigned px = 0; px < n; px++) {
    double x = ((px + 0.5) / n - 0.5) * fx * aspect;
    xc[px] = x * cosv;
    xs[px] = x * sinv;
  }
  for (unsigned y = 0; y < side; y++) {
    for (unsigned half = 0; half < 2; half++) {
      double fyy = ((2 * y + half + 0.5) / n - 0.5) * fy;
      turned_row(src, m, n, aspect, xc, xs, fyy * sinv, fyy * cosv, rows + half * n);
    }
    for (unsigned x = 0; x < side; x++)
      out[(size_t)y * side + x] = (rows[2 * x] + rows[2 * x + 1] + rows[n + 2 * x] + rows[n + 2 * x + 1]) / 4;
  }
}

/* views.ts halved: 2 × 2 means, summed in the same order. */
static void halved(const double *src, unsigned side, double *out) {
  unsigned h = side >> 1;
  for (unsigned y = 0; y < h; y++)
    for (unsigned x = 0; x < h; x++) {
      size_t a = 2 * (size_t)y * side + 2 * x;
      out[(size_t)y * h + x] = (src[a] + src[a + 1] + src[a + side] + src[a + side + 1]) / 4;
    }
}

/* ---- phash.ts lowDct, medians and bits (view-fingerprints.ts's fast path computes the same) ---- */

/* Eight doubles, one vector of the compiler's (GCC and clang): each lane's operations are the scalar ones. */
typedef double v8d __attribute__((vector_size(64), aligned(8)));

/*
 * out[k][j] = Σ_i c[k][i] · p[i][j], from 0, over i in order, for k < rows and j < cols (C is
 * rows × inner, P inner × cols, row-major): each element its own sum. Eight rows k and eight
 * columns j at a time, their sums held in registers while P streams by (the loads, not the
 * arithmetic, bound a plain loop), then a row at a time; where cols is no multiple of eight, the
 * plain way.
 */
VECTOR_CLONES static void times(const double *restrict c, const double *restrict p, double *restrict out, unsigned rows, unsigned inner, unsigned cols) {
  unsigned k0 = 0;
  if (cols % 8 == 0) {
    for (; k0 + 8 <= rows; k0 += 8) {
      const double *restrict c0 = c + (size_t)k0 * inner;
      for (unsigned j = 0; j < cols; j += 8) {
        v8d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        for (unsigned i = 0; i < inner; i++) {
          v8d pv;
          memcpy(&pv, p + (size_t)i * cols + j, sizeof pv);
          a0 += c0[i] * pv;
          a1 += c0[inner + i] * pv;
          a2 += c0[2 * inner + i] * pv;
          a3 += c0[3 * inner + i] * pv;
          a4 += c0[4 * inner + i] * pv;
          a5 += c0[5 * inner + i] * pv;
          a6 += c0[6 * inner + i] * pv;
          a7 += c0[7 * inner + i] * pv;
        }
        double *restrict o = out + (size_t)k0 * cols + j;
        memcpy(o, &a0, sizeof a0);
        memcpy(o + cols, &a1, sizeof a1);
        memcpy(o + 2 * cols, &a2, sizeof a2);
        memcpy(o + 3 * cols, &a3, sizeof a3);
        memcpy(o + 4 * cols, &a4, sizeof a4);
        memcpy(o + 5 * cols, &a5, sizeof a5);
        memcpy(o + 6 * cols, &a6, sizeof a6);
        memcpy(o + 7 * cols, &a7, sizeof a7);
      }
    }
    for (; k0 < rows; k0++) {
      const double *restrict ck = c + (size_t)k0 * inner;
      for (unsigned j = 0; j < cols; j += 8) {
        v8d a = {0};
        for (unsigned i = 0; i < inner; i++) {
          v8d pv;
          memcpy(&pv, p + (size_t)i * cols + j, sizeof pv);
          a += ck[i] * pv;
        }
        memcpy(out + (size_t)k0 * cols + j, &a, sizeof a);
      }
    }
    return;
  }
  for (unsigned k = 0; k < rows; k++) {
    double *restrict ok = out + (size_t)k * cols;
    for (unsigned j = 0; j < cols; j++) ok[j] = 0;
    for (unsigned i = 0; i < inner; i++) {
      double cki = c[(size_t)k * inner + i];
      const double *restrict pi = p + (size_t)i * cols;
      for (unsigned j = 0; j < cols; j++) ok[j] += cki * pi[j];
    }
  }
}

/* t[k][j] = Σ_i c[k][i] · p[i][j] for the DCT's rows k < x of C (x × side) and the side × side picture P. */
static void times_rows(const double *c, const double *p, double *t, unsigned x, unsigned side) { times(c, p, t, x, side, side); }

/* low[k][l] = Σ_j t[k][j] · c[l][j] = Σ_j t[k][j] · ct[j][l], from 0, over j in order (ct: Cᵀ, side × x). */
static void times_cols(const double *t, const double *ct, double *low, unsigned x, unsigned side) { times(t, ct, low, x, side, x); }

/*
 * phash.ts lowDct into low (x × x); t: x × side of scratch. The noise bound 4 · Σ|p| · 1e-10
 * with Σ|p| summed in order; first from a sum in eight parts (within 2 · n · 2⁻⁵³ of it,
 * relatively), and in order only where a coefficient lies so near the bound that the two could
 * decide differently (as wasm/dct.ts does).
 */
static void low_dct(const double *p, unsigned side, unsigned x, const double *c, const double *ct, double *low, double *t) {
  times_rows(c, p, t, x, side);
  times_cols(t, ct, low, x, side);
  size_t n = (size_t)side * side;
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int q = 0; q < 8; q++) part[q] += fabs(p[i + q]);
  for (; i < n; i++) part[0] += fabs(p[i]);
  double wide = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  double noise = 4 * wide * 1e-10;
  double below = noise * (1 - 1e-9), above = noise * (1 + 1e-9);
  int exact = 0;
  for (unsigned k = 0; k < x * x && !exact; k++) {
    double a = fabs(low[k]);
    if (a > below && a <= above) exact = 1;
  }
  if (exact) {
    double scale = 0;
    for (i = 0; i < n; i++) scale += fabs(p[i]);
    noise = 4 * scale * 1e-10;
  }
  for (unsigned k = 0; k < x * x; k++)
    if (fabs(low[k]) <= noise) low[k] = 0;
}

/*
 * The k-th smallest of a[0, n), leaving every element after k no smaller than it (what a sort
 * would put there: any exact selection gives that value). Quickselect with partitions that do
 * not branch on the data (a comparison's result is added, not branched on: the values are as
 * good as random, so branches on them would be mispredicted half the time): elements below the
 * pivot to the front, then, where k lies at or past them, those equal to it next; equal values
 * end the search, so duplicates cannot stall it.
 */
static double select_kth(double *a, int n, int k) {
  int lo = 0, hi = n - 1;
  while (hi - lo >= 16) {
    int mid = lo + ((hi - lo) >> 1);
    double x = a[lo], y = a[mid], z = a[hi];
    double p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    int s = lo;
    for (int i = lo; i <= hi; i++) {
      double v = a[i];
      a[i] = a[s];
      a[s] = v;
      s += v < p;
    }
    if (k < s) {
      hi = s - 1;
      continue;
    }
    int e = s;
    for (int i = s; i <= hi; i++) {
      double v = a[i];
      a[i] = a[e];
      a[e] = v;
      e += v <= p;
    }
    if (k < e) return a[k]; /* a[s, e) are all p, and what follows is larger */
    lo = e;
  }
  for (int i = lo + 1; i <= hi; i++) { /* insertion sort of what is left */
    double v = a[i];
    int j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
  return a[k];
}

/*
 * The x × x block with its odd columns negated if neg_cols and its odd rows if neg_rows into
 * signed, and its median (numpy's: the mean of the two middle values for an even count); a: x²
 * of scratch for the selection.
 */
static double signed_median(const double *low, unsigned x, int neg_cols, int neg_rows, double *signed_block, double *a) {
  int n = (int)(x * x);
  for (unsigned k = 0; k < x; k++) {
    int row_neg = neg_rows && (k & 1);
    for (unsigned l = 0; l < x; l++) {
      double v = low[k * x + l];
      signed_block[k * x + l] = row_neg != (neg_cols && (l & 1)) ? -v : v;
    }
  }
  memcpy(a, signed_block, (size_t)n * sizeof *a);
  if (n % 2) return select_kth(a, n, (n - 1) >> 1);
  int h = n / 2;
  double lower = select_kth(a, n, h - 1);
  double upper = a[h];
  for (int i = h + 1; i < n; i++)
    if (a[i] < upper) upper = a[i];
  return (lower + upper) / 2;
}

/* The packed bits of values > median, row-major (bits.ts layout). */
static void bits_above(const double *values, unsigned n, double median, uint32_t *words) {
  for (unsigned wi = 0; wi < words_for(n); wi++) {
    uint32_t word = 0;
    unsigned end = n - 32 * wi < 32 ? n - 32 * wi : 32;
    for (unsigned b = 0; b < end; b++) word |= (uint32_t)(values[32 * wi + b] > median) << b;
    words[wi] = word;
  }
}

/*
 * The bits of one thumbnail: its 8 orientations one after the other (orient.ts), or the upright
 * one. Orientation o's value at (k, l) is orientDct's: the upright block's at (k, l), or at
 * (l, k) for o ≥ 4, negated by the parity of k if o & 2 and of l if o & 1. So for o < 4 its bits
 * are those of the upright block with odd columns (o & 1) and odd rows (o & 2) negated, compared
 * with that block's median; for o ≥ 4 the transpose of the bits of the block with odd columns
 * negated if o & 2 and odd rows if o & 1 (view-fingerprints.ts classBitsInto's 4 medians).
 * low, t, signed_block, a: scratch.
 */
static void thumb_bits(const double *thumb, unsigned side, unsigned x, const double *c, const double *ct, int orientations, uint32_t *words, double *low, double *t, double *signed_block, double *a) {
  low_dct(thumb, side, x, c, ct, low, t);
  unsigned w = words_for(x * x);
  unsigned patterns = orientations ? 4 : 1;
  for (unsigned pattern = 0; pattern < patterns; pattern++) {
    double median = signed_median(low, x, pattern & 1, (pattern & 2) != 0, signed_block, a);
    bits_above(signed_block, x * x, median, words + pattern * w);
  }
  if (!orientations) return;
  for (unsigned o = 4; o < ORIENTATIONS; o++) {
    unsigned pattern = ((o & 1) << 1) | ((o & 2) >> 1);
    const uint32_t *from = words + pattern * w;
    uint32_t *to = words + o * w;
    memset(to, 0, w * sizeof *to);
    for (unsigned k = 0; k < x; k++)
      for (unsigned l = 0; l < x; l++) {
        unsigned i = l * x + k, j = k * x + l;
        to[j >> 5] |= ((from[i >> 5] >> (i & 31)) & 1) << (j & 31);
      }
  }
}

/* ---- detail.ts detailResidual ---- */

/* g[r][s] = Σ_k a[r][k] · at[k][s] (at = Aᵀ), from 0, over k in order: Σ_k a[r][k] · a[s][k] (times_rows with C = A, P = Aᵀ). */
static void gram(const double *a, const double *at, double *g, unsigned n) { times(a, at, g, n, n, n); }

/* next[c][r] = Σ_k g[r][k] · q[c][k] over k in order, as Σ_k q[c][k] · g[k][r] (G is symmetric to the bit). */
static void times_g(const double *g, const double *q, double *next, unsigned n) { times(q, g, next, RANK, n, n); }

/* detail.ts orthonormalise: Gram–Schmidt on the RANK columns of q (column-major, n rows). */
static void orthonormalise(double *q, unsigned n) {
  for (unsigned c = 0; c < RANK; c++) {
    double *qc = q + (size_t)c * n;
    for (unsigned p = 0; p < c; p++) {
      const double *qp = q + (size_t)p * n;
      double dot = 0;
      for (unsigned r = 0; r < n; r++) dot += qc[r] * qp[r];
      for (unsigned r = 0; r < n; r++) qc[r] -= dot * qp[r];
    }
    double norm = 0;
    for (unsigned r = 0; r < n; r++) norm += qc[r] * qc[r]; /* q ** 2: x · x, the correctly rounded square */
    norm = sqrt(norm);
    for (unsigned r = 0; r < n; r++) qc[r] = norm > 1e-12 ? qc[r] / norm : 0;
  }
}

/* detail.ts detailResidual of the n × n thumbnail; work: 3 n² + 2 RANK n doubles. */
static double detail_residual(const struct view_spec *s, const double *pixels, unsigned n, double *work) {
  size_t nn = (size_t)n * n;
  double *a = work, *at = a + nn, *g = at + nn, *q = g + nn, *next = q + RANK * n;
  double mean = 0;
  for (size_t i = 0; i < nn; i++) mean += pixels[i];
  mean /= nn;
  for (unsigned r = 0; r < n; r++)
    for (unsigned k = 0; k < n; k++) {
      double v = pixels[(size_t)r * n + k] - mean;
      a[(size_t)r * n + k] = v;
      at[(size_t)k * n + r] = v;
    }
  gram(a, at, g, n);
  double trace = 0;
  for (unsigned r = 0; r < n; r++) trace += g[(size_t)r * n + r];
  if (!(trace > 1e-9 * n * n)) return 0;
  memcpy(q, s->detail_start, (size_t)RANK * n * sizeof *q);
  for (int it = 0; it < ITERATIONS; it++) {
    times_g(g, q, next, n);
    double *swap = q;
    q = next;
    next = swap;
    orthonormalise(q, n);
  }
  times_g(g, q, next, n);
  double top = 0;
  for (unsigned c = 0; c < RANK; c++)
    for (unsigned r = 0; r < n; r++) top += q[(size_t)c * n + r] * next[(size_t)c * n + r];
  double v = 1 - top / trace;
  v = v > 0 ? v : 0;
  return v < 1 ? v : 1;
}

/* methods.ts isFlat of the whole view's thumbnail and its upright bits. */
static int is_flat(const struct view_spec *s, const double *pixels, size_t n, const uint32_t *bits, unsigned nbits) {
  unsigned ones = 0;
  for (unsigned i = 0; i < nbits; i++) ones += (bits[i >> 5] >> (i & 31)) & 1;
  if (ones == 0 || ones == nbits) return 1;
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++) {
    double v = pixels[i];
    sum += v;
    sq += v * v;
  }
  double mean = sum / n;
  double var = sq / n - mean * mean;
  return sqrt(var > 0 ? var : 0) < s->flat_std;
}

/* orientation.ts applyOrientation of a square m × m image. */
static void upright(const double *in, unsigned m, unsigned orientation, double *out) {
  long w = m, h = m, base, step_r, step_c;
  switch (orientation) {
    case 2: base = w - 1; step_r = w; step_c = -1; break;
    case 3: base = (h - 1) * w + (w - 1); step_r = -w; step_c = -1; break;
    case 4: base = (h - 1) * w; step_r = -w; step_c = 1; break;
    case 5: base = 0; step_r = 1; step_c = w; break;
    case 6: base = (h - 1) * w; step_r = 1; step_c = -w; break;
    case 7: base = (h - 1) * w + (w - 1); step_r = -1; step_c = -w; break;
    case 8: base = w - 1; step_r = -1; step_c = w; break;
    default: memcpy(out, in, (size_t)m * m * sizeof *out); return;
  }
  for (long r = 0; r < h; r++)
    for (long c = 0; c < w; c++) out[r * w + c] = in[base + r * step_r + c * step_c];
}

/*
 * view-fingerprints.ts fastViewFingerprints (= plainViewFingerprints) for phash, with the views
 * cut from the source: the class thumbnails (a framed view without a frame is the whole view's
 * bits again), the edit views' thumbnails, their bits; the detail measure; the coarse views from
 * the thumbnails halved.
 */
int view_bits(const struct view_spec *s, const double *stored, unsigned orientation, unsigned width, unsigned height, uint32_t *out) {
  unsigned m = s->m, side = s->side, x = s->x, cx = s->cx, cside = s->cside;
  unsigned classes = classes_of(s), nthumbs = classes + s->nedits;
  size_t area = (size_t)side * side, carea = (size_t)cside * cside, marea = (size_t)m * m;
  size_t doubles = marea                                  /* the upright source */
                   + marea                                /* resampling's rows; the turns' samples */
                   + (4 * (size_t)side * side > marea ? 4 * (size_t)side * side - marea : 0)
                   + nthumbs * (area + carea)             /* thumbnails, halved ones */
                   + (size_t)x * side + 3 * (size_t)x * x /* t, low, a signed block, selection */
                   + (size_t)m * side + 8 * (size_t)side   /* the whole width's pass; taps */
                   + 3 * area + 2 * RANK * (size_t)side   /* the detail measure */
                   + m;                                   /* a frame's line */
  double *mem = malloc(doubles * sizeof *mem);
  if (!mem) return -1;
  double *src = mem, *scratch = src + marea;
  size_t scratch_n = marea > 4 * area ? marea : 4 * area;
  double *thumbs = scratch + scratch_n, *halves = thumbs + nthumbs * area;
  double *t = halves + nthumbs * carea, *low = t + (size_t)x * side, *signed_block = low + (size_t)x * x, *sel = signed_block + (size_t)x * x;
  double *detail = sel + (size_t)x * x, *line = detail + 3 * area + 2 * RANK * (size_t)side;
  double *full = line + m, *wt = full + (size_t)m * side;
  int idx[4 * 4096];
  struct sampling g = {src, m, side, scratch, full, 0, idx, wt};
  int failed = 0;

  upright(stored, m, orientation, src);
  double aspect = !width || !height ? 1 : orientation >= 5 && orientation <= 8 ? (double)height / width : (double)width / height;

  struct rect frame;
  int framed = s->borders && frame_of(s, src, m, s->edits, &frame, line);
  /* same[i]: the thumbnail whose bits class i has (itself, or the whole view for a framed view without a frame) */
  unsigned same[MAX_CROPS + 1];
  for (unsigned i = 0; i < classes; i++) {
    same[i] = i;
    double *thumb = thumbs + i * area;
    if (i < s->ncrops) failed |= resample_rect(&g, central_rect(m, s->crops[i]), thumb);
    else if (framed) failed |= resample_rect(&g, frame, thumb);
    else same[i] = 0; /* crops[0] is the whole picture */
  }
  for (unsigned e = 0; e < s->nedits; e++) {
    const struct edit_view *ev = &s->edit[e];
    double *thumb = thumbs + (classes + e) * area;
    if (ev->kind == EDIT_STRIP_BOTTOM || ev->kind == EDIT_STRIP_TOP) {
      double cut = s->strip * m;
      struct rect r = {ev->kind == EDIT_STRIP_TOP ? cut : 0, ev->kind == EDIT_STRIP_BOTTOM ? m - cut : m, 0, m};
      failed |= resample_rect(&g, r, thumb);
    } else {
      double fx, fy;
      turn_keep(ev, aspect, &fx, &fy);
      turned(src, m, side, ev, aspect, fx, fy, thumb, scratch);
    }
  }
  if (failed) {
    free(mem);
    return -1;
  }

  unsigned per = s->orientations ? ORIENTATIONS : 1, w = words_for(x * x), views = per * classes + s->nedits;
  uint32_t *words = out + 1;
  for (unsigned i = 0; i < classes; i++) {
    if (same[i] != i) memcpy(words + i * per * w, words + same[i] * per * w, per * w * sizeof *words);
    else thumb_bits(thumbs + i * area, side, x, s->dct, s->dct_t, s->orientations, words + i * per * w, low, t, signed_block, sel);
  }
  for (unsigned e = 0; e < s->nedits; e++) thumb_bits(thumbs + (classes + e) * area, side, x, s->dct, s->dct_t, 0, words + (per * classes + e) * w, low, t, signed_block, sel);
  int low_detail = s->edits && detail_residual(s, thumbs, side, detail) < s->low_detail;
  if (low_detail)
    for (unsigned v = 1; v < views; v++) memcpy(words + v * w, words, w * sizeof *words);
  out[0] = is_flat(s, thumbs, area, words, x * x) ? 1 : 0;

  if (cx) {
    unsigned cw = words_for(cx * cx);
    uint32_t *coarse = words + (size_t)views * w;
    for (unsigned i = 0; i < nthumbs; i++)
      if (i >= classes || same[i] == i) halved(thumbs + i * area, side, halves + i * carea);
    for (unsigned i = 0; i < classes; i++) {
      if (same[i] != i) memcpy(coarse + i * per * cw, coarse + same[i] * per * cw, per * cw * sizeof *coarse);
      else thumb_bits(halves + i * carea, cside, cx, s->cdct, s->cdct_t, s->orientations, coarse + i * per * cw, low, t, signed_block, sel);
    }
    for (unsigned e = 0; e < s->nedits; e++) thumb_bits(halves + (classes + e) * carea, cside, cx, s->cdct, s->cdct_t, 0, coarse + (per * classes + e) * cw, low, t, signed_block, sel);
    if (low_detail)
      for (unsigned v = 1; v < views; v++) memcpy(coarse + v * cw, coarse, cw * sizeof *coarse);
  }
  free(mem);
  return 0;
}
