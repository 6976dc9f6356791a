;; The search tables' inner loops (src/index/coarse-tables.ts): one chunk's probe of a sorted
;; table, every bucket within a radius of the query's chunk value, in one call. Rows are 64-bit
;; little-endian words from byte 0 of the imported memory (a coarse view: bit i is bit i mod 32 of
;; 32-bit word i / 32, the low word first); the chunk's bucket offsets (2^bits + 1 row indices,
;; 32-bit) lie at byte $start of the same memory. i64.popcnt measures a row in one instruction,
;; where JavaScript needs two 32-bit bit counts of a dozen operations each; and the buckets are
;; enumerated here rather than one call per bucket from JavaScript, whose calls cost as much as
;; a bucket's rows at a million of them.
;;
;; Regenerate src/index/wasm/probe-wasm.ts after editing: node test/tools/build-wasm.mjs
(module
  ;; Shared: a table's rows are made once and probed by worker threads too (index/search-pool.ts).
  (import "env" "memory" (memory 1 65536 shared))
  ;; Called with the index of each row within the radius (rare: a few per probe).
  (import "env" "hit" (func $hit (param i32)))

  ;; One probe's constants. Globals are an instance's own: each thread has its instances.
  (global $q (mut i64) (i64.const 0))
  (global $r (mut i32) (i32.const 0))
  (global $start (mut i32) (i32.const 0))
  (global $bits (mut i32) (i32.const 0))
  ;; What the touches read (kept, so that they are not dropped as unused).
  (global $touched (mut i32) (i32.const 0))

  ;; Every row of bucket $v within $r bits of the query: $hit(row index).
  (func $bucket (param $v i32)
    (local $at i32) (local $stop i32) (local $s i32)
    (local.set $s (i32.add (global.get $start) (i32.shl (local.get $v) (i32.const 2))))
    (local.set $at (i32.shl (i32.load (local.get $s)) (i32.const 3)))
    (local.set $stop (i32.shl (i32.load offset=4 (local.get $s)) (i32.const 3)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $at) (local.get $stop)))
        (if (i32.le_u (i32.wrap_i64 (i64.popcnt (i64.xor (i64.load (local.get $at)) (global.get $q)))) (global.get $r))
          (then (call $hit (i32.shr_u (local.get $at) (i32.const 3)))))
        (local.set $at (i32.add (local.get $at) (i32.const 8)))
        (br $scan))))

  ;; The buckets of $v and of every value that differs from it in at most $depth more bits, each
  ;; at positions ≥ $from (so every value within the radius once: the combinations in order).
  (func $ball (param $v i32) (param $from i32) (param $depth i32)
    (local $i i32) (local $touch i32) (local $s i32) (local $e i32)
    (if (i32.gt_s (local.get $depth) (i32.const 0))
      (then
        ;; The next level's buckets touched first (each one's offsets, then its first and last
        ;; rows: a bucket of a million rows' table spans two or three cache lines), each
        ;; independent of the others, so that their cache misses overlap instead of each waiting
        ;; for the bucket before it to be measured: a search's probes are most of its time, and
        ;; their rows lie far apart in tables of tens of megabytes.
        (local.set $i (local.get $from))
        (block $done
          (loop $each
            (br_if $done (i32.ge_u (local.get $i) (global.get $bits)))
            (local.set $s (i32.add (global.get $start) (i32.shl (i32.xor (local.get $v) (i32.shl (i32.const 1) (local.get $i))) (i32.const 2))))
            (local.set $e (i32.sub (i32.shl (i32.load offset=4 (local.get $s)) (i32.const 3)) (i32.const 8)))
            (local.set $touch (i32.xor (local.get $touch)
              (i32.xor
                (i32.load (i32.shl (i32.load (local.get $s)) (i32.const 3)))
                (i32.load (select (local.get $e) (i32.const 0) (i32.ge_s (local.get $e) (i32.const 0)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $each)))
        (global.set $touched (i32.xor (global.get $touched) (local.get $touch)))))
    (call $bucket (local.get $v))
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

  ;; One chunk's probe: the rows within $r bits of the query (its low and high 32 bits in $lo,
  ;; $hi) in every bucket within $t bits of its chunk value $qv ($bits wide; offsets at $start).
  (func (export "probe") (param $start i32) (param $bits i32) (param $qv i32) (param $t i32) (param $lo i32) (param $hi i32) (param $r i32)
    (global.set $q (i64.or (i64.extend_i32_u (local.get $lo)) (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))))
    (global.set $r (local.get $r))
    (global.set $start (local.get $start))
    (global.set $bits (local.get $bits))
    (if (i32.ge_s (local.get $t) (i32.const 0))
      (then (call $ball (local.get $qv) (i32.const 0) (local.get $t)))))
)
