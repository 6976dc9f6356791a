;; The search tables' inner loop (src/index/coarse-tables.ts): within one bucket of a sorted
;; table, the next row within a distance of the query. Rows are 64-bit little-endian words from
;; byte $rows of the imported memory (a coarse view: bit i is bit i mod 32 of 32-bit word i / 32,
;; the low word first). i64.popcnt measures a row in one instruction, where JavaScript needs two
;; 32-bit bit counts of a dozen operations each: a bucket is read at memory speed.
;;
;; Regenerate src/index/wasm/probe-wasm.ts after editing: node test/tools/build-wasm.mjs
(module
  ;; Shared: a table's rows are made once and probed by worker threads too (index/search-pool.ts).
  (import "env" "memory" (memory 1 65536 shared))

  ;; The first row index p' in [$p, $end) whose row lies within $r bits of the query (its low
  ;; and high 32 bits in $lo, $hi), or $end when none does.
  (func (export "next") (param $rows i32) (param $p i32) (param $end i32) (param $lo i32) (param $hi i32) (param $r i32) (result i32)
    (local $q i64) (local $at i32) (local $stop i32)
    (local.set $q (i64.or (i64.extend_i32_u (local.get $lo)) (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))))
    (local.set $at (i32.add (local.get $rows) (i32.shl (local.get $p) (i32.const 3))))
    (local.set $stop (i32.add (local.get $rows) (i32.shl (local.get $end) (i32.const 3))))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $at) (local.get $stop)))
        (br_if $done (i32.le_u (i32.wrap_i64 (i64.popcnt (i64.xor (i64.load (local.get $at)) (local.get $q)))) (local.get $r)))
        (local.set $at (i32.add (local.get $at) (i32.const 8)))
        (br $scan)))
    (i32.shr_u (i32.sub (local.get $at) (local.get $rows)) (i32.const 3)))
)
