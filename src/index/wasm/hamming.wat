;; Hamming-distance kernels over packed fingerprints, for the linear scans of the cluster engine.
;; Fingerprints are rows of $w 64-bit little-endian words from byte 0 of the imported memory
;; (bit i of a fingerprint is bit i mod 64 of word i / 64; padding bits are 0 in every row).
;; i64.popcnt makes a 64-bit distance one instruction, about twice as fast as JavaScript's best.
;;
;; Regenerate src/cluster/wasm/hamming-wasm.ts after editing: node test/tools/build-wasm.mjs
(module
  (import "env" "memory" (memory 1))
  ;; The row the last scan stopped before (it stops early when the output may not fit).
  (global $resume (export "resume") (mut i32) (i32.const 0))

  ;; Distance in bits between the rows at byte addresses $a and $b.
  (func $distance (param $a i32) (param $b i32) (param $w i32) (result i32)
    (local $d i64) (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $w) (i32.const 3))))
    (loop $words
      (local.set $d (i64.add (local.get $d)
        (i64.popcnt (i64.xor (i64.load (local.get $a)) (i64.load (local.get $b))))))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (local.set $b (i32.add (local.get $b) (i32.const 8)))
      (br_if $words (i32.lt_u (local.get $a) (local.get $end))))
    (i32.wrap_i64 (local.get $d)))

  ;; For rows i in [$i0, $i1) and j in (i, $n): writes (i, j, d) as three i32 from byte $out for
  ;; every d <= $t, at most $cap triples; returns how many. A row is started only when all its
  ;; pairs fit; the row it stopped before is left in $resume.
  (func (export "pairs") (param $w i32) (param $n i32) (param $i0 i32) (param $i1 i32)
        (param $t i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32) (local $j i32) (local $pi i32) (local $pj i32) (local $row i32)
    (local $d i32) (local $cnt i32) (local $at i32) (local $x i64)
    (local.set $row (i32.shl (local.get $w) (i32.const 3)))
    (local.set $i (local.get $i0))
    (block $stop
      (loop $rows
        (br_if $stop (i32.ge_u (local.get $i) (local.get $i1)))
        (br_if $stop (i32.gt_u (i32.add (local.get $cnt) (i32.sub (local.get $n) (local.get $i)))
                               (local.get $cap)))
        (local.set $pi (i32.mul (local.get $i) (local.get $row)))
        (local.set $j (i32.add (local.get $i) (i32.const 1)))
        (local.set $pj (i32.add (local.get $pi) (local.get $row)))
        (local.set $x (i64.load (local.get $pi)))
        (block $rowdone
          (loop $cols
            (br_if $rowdone (i32.ge_u (local.get $j) (local.get $n)))
            (if (i32.eq (local.get $w) (i32.const 1))
              (then (local.set $d (i32.wrap_i64 (i64.popcnt (i64.xor (local.get $x) (i64.load (local.get $pj)))))))
              (else (local.set $d (call $distance (local.get $pi) (local.get $pj) (local.get $w)))))
            (if (i32.le_u (local.get $d) (local.get $t))
              (then
                (local.set $at (i32.add (local.get $out) (i32.mul (local.get $cnt) (i32.const 12))))
                (i32.store (local.get $at) (local.get $i))
                (i32.store offset=4 (local.get $at) (local.get $j))
                (i32.store offset=8 (local.get $at) (local.get $d))
                (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (local.set $pj (i32.add (local.get $pj) (local.get $row)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (global.set $resume (local.get $i))
    (local.get $cnt))

  ;; The largest distance between a row i in [$i0, $i1) and a row j in (i, $n); stops early at $full.
  (func (export "maxDistance") (param $w i32) (param $n i32) (param $i0 i32) (param $i1 i32)
        (param $full i32) (result i32)
    (local $i i32) (local $pi i32) (local $pj i32) (local $end i32) (local $row i32)
    (local $d i32) (local $best i32) (local $x i64)
    (local.set $row (i32.shl (local.get $w) (i32.const 3)))
    (local.set $end (i32.mul (local.get $n) (local.get $row)))
    (local.set $i (local.get $i0))
    (block $stop
      (loop $rows
        (br_if $stop (i32.ge_u (local.get $i) (local.get $i1)))
        (br_if $stop (i32.ge_u (local.get $best) (local.get $full)))
        (local.set $pi (i32.mul (local.get $i) (local.get $row)))
        (local.set $pj (i32.add (local.get $pi) (local.get $row)))
        (local.set $x (i64.load (local.get $pi)))
        (block $rowdone
          (loop $cols
            (br_if $rowdone (i32.ge_u (local.get $pj) (local.get $end)))
            (if (i32.eq (local.get $w) (i32.const 1))
              (then (local.set $d (i32.wrap_i64 (i64.popcnt (i64.xor (local.get $x) (i64.load (local.get $pj)))))))
              (else (local.set $d (call $distance (local.get $pi) (local.get $pj) (local.get $w)))))
            (if (i32.gt_u (local.get $d) (local.get $best)) (then (local.set $best (local.get $d))))
            (local.set $pj (i32.add (local.get $pj) (local.get $row)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (local.get $best)))
