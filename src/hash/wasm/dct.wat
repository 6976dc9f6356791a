;; The low block of phash's 2-D DCT (hash/phash.ts lowDct) with 128-bit SIMD: two doubles per
;; instruction, each lane doing exactly the scalar code's operations on the same values in the
;; same order (a multiply, then an add to a sum that starts at 0; no fused multiply-add), so the
;; results are the same numbers, bit for bit. All addresses are byte addresses in the imported
;; memory; matrices are row-major doubles.
;;
;; Regenerate src/hash/wasm/dct-wasm.ts after editing: node test/tools/build-wasm.mjs
(module
  (import "env" "memory" (memory 1))

  ;; t = C · P: t[k][j] = Σ_i c[k][i] · p[i][j], summed over i = 0, 1, … in order, for k < $x and
  ;; j < $side; P is $side × $side at $p, C is $x × $side at $c, t ($x × $side) goes to $t.
  ;; $side must be a multiple of 8 (eight columns j at a time, in four registers). Two rows k at
  ;; a time where there are two (eight sums side by side, each loaded column of P used twice):
  ;; a sum waits on the add before it, so eight independent ones keep the adder busy where four
  ;; left it idle half the time; each sum is still its own, in the same order.
  (func (export "rows") (param $p i32) (param $c i32) (param $t i32) (param $side i32) (param $x i32)
    (local $row i32) (local $k i32) (local $jb i32) (local $pp i32) (local $cp i32) (local $cend i32)
    (local $out i32) (local $ck v128) (local $ck1 v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $row (i32.shl (local.get $side) (i32.const 3)))
    (local.set $k (i32.const 0))
    ;; rows k and k + 1
    (block $pairsDone
      (br_if $pairsDone (i32.gt_u (i32.add (local.get $k) (i32.const 2)) (local.get $x)))
      (loop $ks2
        (local.set $jb (i32.const 0))
        (loop $js2
          (local.set $a0 (v128.const f64x2 0 0))
          (local.set $a1 (v128.const f64x2 0 0))
          (local.set $a2 (v128.const f64x2 0 0))
          (local.set $a3 (v128.const f64x2 0 0))
          (local.set $b0 (v128.const f64x2 0 0))
          (local.set $b1 (v128.const f64x2 0 0))
          (local.set $b2 (v128.const f64x2 0 0))
          (local.set $b3 (v128.const f64x2 0 0))
          (local.set $pp (i32.add (local.get $p) (local.get $jb)))
          (local.set $cp (i32.add (local.get $c) (i32.mul (local.get $k) (local.get $row))))
          (local.set $cend (i32.add (local.get $cp) (local.get $row)))
          (loop $is2
            (local.set $ck (f64x2.splat (f64.load (local.get $cp))))
            (local.set $ck1 (f64x2.splat (f64.load (i32.add (local.get $cp) (local.get $row)))))
            (local.set $v0 (v128.load offset=0 (local.get $pp)))
            (local.set $v1 (v128.load offset=16 (local.get $pp)))
            (local.set $v2 (v128.load offset=32 (local.get $pp)))
            (local.set $v3 (v128.load offset=48 (local.get $pp)))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $ck) (local.get $v0))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $ck) (local.get $v1))))
            (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $ck) (local.get $v2))))
            (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $ck) (local.get $v3))))
            (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $ck1) (local.get $v0))))
            (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $ck1) (local.get $v1))))
            (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $ck1) (local.get $v2))))
            (local.set $b3 (f64x2.add (local.get $b3) (f64x2.mul (local.get $ck1) (local.get $v3))))
            (local.set $pp (i32.add (local.get $pp) (local.get $row)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 8)))
            (br_if $is2 (i32.lt_u (local.get $cp) (local.get $cend))))
          (local.set $out (i32.add (i32.add (local.get $t) (i32.mul (local.get $k) (local.get $row))) (local.get $jb)))
          (v128.store offset=0 (local.get $out) (local.get $a0))
          (v128.store offset=16 (local.get $out) (local.get $a1))
          (v128.store offset=32 (local.get $out) (local.get $a2))
          (v128.store offset=48 (local.get $out) (local.get $a3))
          (local.set $out (i32.add (local.get $out) (local.get $row)))
          (v128.store offset=0 (local.get $out) (local.get $b0))
          (v128.store offset=16 (local.get $out) (local.get $b1))
          (v128.store offset=32 (local.get $out) (local.get $b2))
          (v128.store offset=48 (local.get $out) (local.get $b3))
          (local.set $jb (i32.add (local.get $jb) (i32.const 64)))
          (br_if $js2 (i32.lt_u (local.get $jb) (local.get $row))))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br_if $ks2 (i32.le_u (i32.add (local.get $k) (i32.const 2)) (local.get $x)))))
    ;; the last row k of an odd $x
    (block $done
      (br_if $done (i32.ge_u (local.get $k) (local.get $x)))
      (local.set $jb (i32.const 0))
      (loop $js
        (local.set $a0 (v128.const f64x2 0 0))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $a3 (v128.const f64x2 0 0))
        (local.set $pp (i32.add (local.get $p) (local.get $jb)))
        (local.set $cp (i32.add (local.get $c) (i32.mul (local.get $k) (local.get $row))))
        (local.set $cend (i32.add (local.get $cp) (local.get $row)))
        (loop $is
          (local.set $ck (f64x2.splat (f64.load (local.get $cp))))
          (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $ck) (v128.load offset=0 (local.get $pp)))))
          (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $ck) (v128.load offset=16 (local.get $pp)))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $ck) (v128.load offset=32 (local.get $pp)))))
          (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $ck) (v128.load offset=48 (local.get $pp)))))
          (local.set $pp (i32.add (local.get $pp) (local.get $row)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 8)))
          (br_if $is (i32.lt_u (local.get $cp) (local.get $cend))))
        (local.set $out (i32.add (i32.add (local.get $t) (i32.mul (local.get $k) (local.get $row))) (local.get $jb)))
        (v128.store offset=0 (local.get $out) (local.get $a0))
        (v128.store offset=16 (local.get $out) (local.get $a1))
        (v128.store offset=32 (local.get $out) (local.get $a2))
        (v128.store offset=48 (local.get $out) (local.get $a3))
        (local.set $jb (i32.add (local.get $jb) (i32.const 64)))
        (br_if $js (i32.lt_u (local.get $jb) (local.get $row))))))

  ;; low = t · Cᵀ: low[k][l] = Σ_j t[k][j] · c[l][j], summed over j = 0, 1, … in order, for k, l
  ;; < $x; t is $x × $side at $t, Cᵀ ($side × $x: ct[j][l] = c[l][j]) at $ct, low ($x × $x) goes to
  ;; $low. $x must be a multiple of 8 (eight l at a time).
  (func (export "cols") (param $t i32) (param $ct i32) (param $low i32) (param $side i32) (param $x i32)
    (local $row i32) (local $xb i32) (local $k i32) (local $lb i32) (local $tp i32) (local $tend i32)
    (local $cp i32) (local $out i32) (local $tk v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $row (i32.shl (local.get $side) (i32.const 3)))
    (local.set $xb (i32.shl (local.get $x) (i32.const 3)))
    (local.set $k (i32.const 0))
    (loop $ks
      (local.set $lb (i32.const 0))
      (loop $ls
        (local.set $a0 (v128.const f64x2 0 0))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $a3 (v128.const f64x2 0 0))
        (local.set $tp (i32.add (local.get $t) (i32.mul (local.get $k) (local.get $row))))
        (local.set $tend (i32.add (local.get $tp) (local.get $row)))
        (local.set $cp (i32.add (local.get $ct) (local.get $lb)))
        (loop $js
          (local.set $tk (f64x2.splat (f64.load (local.get $tp))))
          (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $tk) (v128.load offset=0 (local.get $cp)))))
          (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $tk) (v128.load offset=16 (local.get $cp)))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $tk) (v128.load offset=32 (local.get $cp)))))
          (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $tk) (v128.load offset=48 (local.get $cp)))))
          (local.set $tp (i32.add (local.get $tp) (i32.const 8)))
          (local.set $cp (i32.add (local.get $cp) (local.get $xb)))
          (br_if $js (i32.lt_u (local.get $tp) (local.get $tend))))
        (local.set $out (i32.add (i32.add (local.get $low) (i32.mul (local.get $k) (local.get $xb))) (local.get $lb)))
        (v128.store offset=0 (local.get $out) (local.get $a0))
        (v128.store offset=16 (local.get $out) (local.get $a1))
        (v128.store offset=32 (local.get $out) (local.get $a2))
        (v128.store offset=48 (local.get $out) (local.get $a3))
        (local.set $lb (i32.add (local.get $lb) (i32.const 64)))
        (br_if $ls (i32.lt_u (local.get $lb) (local.get $xb))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $ks (i32.lt_u (local.get $k) (local.get $x)))))

  ;; Σ |p[i]| for i < $n in eight partial sums (i mod 8) added at the end: not the in-order sum
  ;; absSum gives, but within 2 · $n · 2⁻⁵³ of it relatively (any order of adding non-negative
  ;; numbers is), and eight times as fast: a bound for the callers to check against (dct.ts).
  ;; $n must be a multiple of 8, $p 16-byte aligned.
  (func (export "absSumWide") (param $p i32) (param $n i32) (result f64)
    (local $end i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $is
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.abs (v128.load offset=0 (local.get $p)))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.abs (v128.load offset=16 (local.get $p)))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.abs (v128.load offset=32 (local.get $p)))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.abs (v128.load offset=48 (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br_if $is (i32.lt_u (local.get $p) (local.get $end)))))
    (local.set $a0 (f64x2.add (f64x2.add (local.get $a0) (local.get $a1)) (f64x2.add (local.get $a2) (local.get $a3))))
    (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0))))

  ;; Σ |p[i]| for i < $n, in order from 0 (the scale of lowDct's noise bound).
  (func (export "absSum") (param $p i32) (param $n i32) (result f64)
    (local $s f64) (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $is
        (local.set $s (f64.add (local.get $s) (f64.abs (f64.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br_if $is (i32.lt_u (local.get $p) (local.get $end)))))
    (local.get $s))
)
