;; The search tables' inner loops (src/index/coarse-tables.ts): one chunk's probe of a sorted
;; table, every bucket within a radius of the query's chunk value, in one call.
;;
;; A row is a 64-bit coarse view less the chunk's own bits, which its bucket gives: the other
;; bits rotated down (coarse-tables.ts, restOf), their low 32 in a 32-bit array from byte 0 of the
;; imported memory, the rest (at most 32 bits) in a 16- or 32-bit array from byte $hiAt; the
;; chunk's bucket offsets (2^bits + 1 row indices, 32-bit) lie at byte $start of the same memory.
;; A probe reads the 32-bit array alone for nearly every row (the low bits' distance already
;; exceeds the budget), so a bucket costs half the cache lines of whole 64-bit rows, and the
;; uprights' table of a million entries (16 MB so read) stays in the processor's last-level
;; cache, where the whole rows (32 MB) did not. The buckets are enumerated here rather than one
;; call per bucket from JavaScript, whose calls cost as much as a bucket's rows.
;;
;; Regenerate src/index/wasm/probe-wasm.ts after editing: node test/tools/build-wasm.mjs
(module
  ;; Shared: a table's rows are made once and probed by worker threads too (index/search-pool.ts).
  (import "env" "memory" (memory 1 65536 shared))
  ;; Called with the index of each row within the radius (rare: a few per probe).
  (import "env" "hit" (func $hit (param i32)))

  ;; One probe's constants. Globals are an instance's own: each thread has its instances.
  (global $qlo (mut i32) (i32.const 0))
  (global $qhi (mut i32) (i32.const 0))
  ;; $qlo in each of four lanes.
  (global $q4 (mut v128) (v128.const i32x4 0 0 0 0))
  ;; Fours of rows measured from each bucket's start (at least 1).
  (global $window (mut i32) (i32.const 1))
  (global $r (mut i32) (i32.const 0))
  (global $t (mut i32) (i32.const 0))
  (global $start (mut i32) (i32.const 0))
  (global $bits (mut i32) (i32.const 0))
  (global $hiAt (mut i32) (i32.const 0))
  ;; 1: the high parts are 16-bit; 2: 32-bit (chunks narrower than 16 bits leave more than 48).
  (global $hiShift (mut i32) (i32.const 1))
  ;; What the touches read (kept, so that they are not dropped as unused).
  (global $touched (mut i32) (i32.const 0))

  ;; The high part of the row whose low part lies at byte $at.
  (func $high (param $at i32) (result i32)
    (if (result i32) (i32.eq (global.get $hiShift) (i32.const 1))
      (then (i32.load16_u (i32.add (global.get $hiAt) (i32.shr_u (local.get $at) (i32.const 1)))))
      (else (i32.load (i32.add (global.get $hiAt) (local.get $at))))))

  ;; Rows from byte $at to $stop (low parts) whose other bits lie within $rest of the query's: $hit.
  (func $check (param $at i32) (param $stop i32) (param $rest i32)
    (local $d i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $at) (local.get $stop)))
        (local.set $d (i32.popcnt (i32.xor (i32.load (local.get $at)) (global.get $qlo))))
        (if (i32.le_u (local.get $d) (local.get $rest))
          (then
            (if (i32.le_u (i32.add (local.get $d) (i32.popcnt (i32.xor (call $high (local.get $at)) (global.get $qhi)))) (local.get $rest))
              (then (call $hit (i32.shr_u (local.get $at) (i32.const 2)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $each))))

  ;; Every row of bucket $v within $rest bits of the query outside the chunk: $hit(row index).
  ;; The low parts are measured four at a time, first a window of $window fours from the bucket's
  ;; start whether or not the bucket fills it (the rows past its end are measured for nothing and
  ;; never reported). A loop that stopped at the bucket's end would mispredict its last branch in
  ;; most buckets, whose lengths vary (a Poisson count about the mean): that cost more than the
  ;; rows themselves. The window is sized to the table's mean bucket (coarse-tables.ts), and a
  ;; longer bucket's other rows are measured after it.
  (func $bucket (param $v i32) (param $rest i32)
    (local $at i32) (local $stop i32) (local $s i32) (local $lim v128) (local $acc v128) (local $end i32) (local $q v128)
    (local.set $lim (i32x4.splat (local.get $rest)))
    (local.set $s (i32.add (global.get $start) (i32.shl (local.get $v) (i32.const 2))))
    (local.set $at (i32.shl (i32.load (local.get $s)) (i32.const 2)))
    (local.set $stop (i32.shl (i32.load offset=4 (local.get $s)) (i32.const 2)))
    (local.set $end (i32.add (local.get $at) (i32.shl (global.get $window) (i32.const 4))))
    (local.set $q (global.get $q4))
    ;; Into the unrolled fours: the last $window of them, from the bucket's start (br_table: the same
    ;; entry for every bucket of a probe, so its jump is predicted).
    (block $w16 (block $w15 (block $w14 (block $w13 (block $w12 (block $w11 (block $w10 (block $w9 (block $w8 (block $w7 (block $w6 (block $w5 (block $w4 (block $w3 (block $w2 (block $w1 
      (br_table $w1 $w2 $w3 $w4 $w5 $w6 $w7 $w8 $w9 $w10 $w11 $w12 $w13 $w14 $w15 $w16 (i32.sub (i32.const 16) (global.get $window))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=240 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=224 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=208 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=192 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=176 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=160 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=144 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=128 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=112 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=96 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=80 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=64 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=48 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=32 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=16 (local.get $at)) (local.get $q))))) (local.get $lim)))))
    (local.set $acc (v128.or (local.get $acc) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=0 (local.get $at)) (local.get $q))))) (local.get $lim))))
    (if (v128.any_true (local.get $acc))
      (then (call $check (local.get $at) (select (local.get $stop) (local.get $end) (i32.lt_u (local.get $stop) (local.get $end))) (local.get $rest))))
    (if (i32.le_u (local.get $stop) (local.get $end)) (then (return)))
    ;; A bucket longer than the window: sixteen rows per step, then four, then one by one.
    (local.set $at (local.get $end))
    (block $done
      (loop $sixteen
        (br_if $done (i32.gt_u (i32.add (local.get $at) (i32.const 64)) (local.get $stop)))
        (if (v128.any_true (v128.or (v128.or (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=0 (local.get $at)) (local.get $q))))) (local.get $lim)) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=16 (local.get $at)) (local.get $q))))) (local.get $lim))) (v128.or (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=32 (local.get $at)) (local.get $q))))) (local.get $lim)) (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=48 (local.get $at)) (local.get $q))))) (local.get $lim)))))
          (then (call $check (local.get $at) (i32.add (local.get $at) (i32.const 64)) (local.get $rest))))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $sixteen)))
    (block $done
      (loop $four
        (br_if $done (i32.gt_u (i32.add (local.get $at) (i32.const 16)) (local.get $stop)))
        (if (v128.any_true (i32x4.le_u (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.xor (v128.load offset=0 (local.get $at)) (local.get $q))))) (local.get $lim)))
          (then (call $check (local.get $at) (i32.add (local.get $at) (i32.const 16)) (local.get $rest))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $four)))
    (call $check (local.get $at) (local.get $stop) (local.get $rest)))

  ;; The buckets of $v and of every value that differs from it in at most $depth more bits, each
  ;; at positions ≥ $from (so every value within the radius once: the combinations in order).
  ;; $v differs from the query's chunk value in $t − $depth bits.
  (func $ball (param $v i32) (param $from i32) (param $depth i32)
    (local $i i32) (local $touch i32) (local $s i32) (local $e i32) (local $rest i32)
    (if (i32.gt_s (local.get $depth) (i32.const 0))
      (then
        ;; The next level's buckets touched first (each one's offsets, then its first and last
        ;; rows), each independent of the others, so that their cache misses overlap instead of
        ;; each waiting for the bucket before it to be measured: a search's probes are most of
        ;; its time, and their rows lie far apart in tables of tens of megabytes.
        (local.set $i (local.get $from))
        (block $done
          (loop $each
            (br_if $done (i32.ge_u (local.get $i) (global.get $bits)))
            (local.set $s (i32.add (global.get $start) (i32.shl (i32.xor (local.get $v) (i32.shl (i32.const 1) (local.get $i))) (i32.const 2))))
            (local.set $e (i32.sub (i32.shl (i32.load offset=4 (local.get $s)) (i32.const 2)) (i32.const 4)))
            (local.set $touch (i32.xor (local.get $touch)
              (i32.xor
                (i32.load (i32.shl (i32.load (local.get $s)) (i32.const 2)))
                (i32.load (select (local.get $e) (i32.const 0) (i32.ge_s (local.get $e) (i32.const 0)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $each)))
        (global.set $touched (i32.xor (global.get $touched) (local.get $touch)))))
    (local.set $rest (i32.add (i32.sub (global.get $r) (global.get $t)) (local.get $depth)))
    (if (i32.ge_s (local.get $rest) (i32.const 0))
      (then (call $bucket (local.get $v) (local.get $rest))))
    (if (i32.gt_s (local.get $depth) (i32.const 0))
      (then
        (local.set $i (local.get $from))
        (block $done
          (loop $each
            (br_if $done (i32.ge_u (local.get $i) (global.get $bits)))
            (call $ball
              (i32.xor (local.get $v) (i32.shl (i32.const 1) (local.get $i)))
              (i32.add (local.get $i) (i32.const 1))
              (i32.sub (local.get $depth) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $each))))))

  ;; One chunk's probe: the rows within $r bits of the query in every bucket within $t bits of its
  ;; chunk value $qv ($bits wide; offsets at $start). $lo, $hi: the query's other bits as the rows
  ;; hold theirs; the rows' high parts at $hiAt, 2^$hiShift bytes each; $window: fours of rows
  ;; measured from each bucket's start (the memory holds at least 16 × $window bytes after the
  ;; last row's low part).
  (func (export "probe") (param $start i32) (param $bits i32) (param $qv i32) (param $t i32) (param $lo i32) (param $hi i32) (param $r i32) (param $hiAt i32) (param $hiShift i32) (param $window i32)
    (global.set $qlo (local.get $lo))
    (global.set $q4 (i32x4.splat (local.get $lo)))
    (global.set $window (select (local.get $window) (i32.const 1) (i32.gt_s (local.get $window) (i32.const 0))))
    (global.set $qhi (local.get $hi))
    (global.set $r (local.get $r))
    (global.set $t (local.get $t))
    (global.set $start (local.get $start))
    (global.set $bits (local.get $bits))
    (global.set $hiAt (local.get $hiAt))
    (global.set $hiShift (local.get $hiShift))
    (if (i32.ge_s (local.get $t) (i32.const 0))
      (then (call $ball (local.get $qv) (i32.const 0) (local.get $t)))))
)
