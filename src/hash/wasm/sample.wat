;; The view thumbnails' sampling of hash/views.ts with 128-bit SIMD: the area-averaged rectangles
;; (resampleRect: a pass of taps along the rows, two rows at a time, then one across them, eight
;; columns at a time) and the turned views (turned: bilinear samples at twice the side, then 2 × 2
;; means). Two doubles per instruction, each lane doing exactly the scalar code's operations on
;; the same values in the same order (a multiply, then an add to a sum that starts at 0; no fused
;; multiply-add; pmin and pmax are the scalar code's conditional expressions), so the results are
;; the same numbers, bit for bit. All addresses are byte addresses in the imported memory; images
;; are row-major doubles.
;;
;; Regenerate src/hash/wasm/sample-wasm.ts after editing: node test/tools/build-wasm.mjs

(module
  (import "env" "memory" (memory 1))

  ;; The $side × $side turned thumbnail into $out: output (h, j) is the mean of the samples at rows
  ;; 2h, 2h + 1 and columns 2j, 2j + 1, summed ((r0[2j] + r0[2j+1]) + r1[2j]) + r1[2j+1], then / 4.
  ;; Column terms at $xc, $xs (2·$side each) in pairs of outputs: for outputs 2i, 2i + 1, the terms
  ;; of columns 4i, 4i + 2 (even samples), then 4i + 1, 4i + 3 (odd samples); row terms at $ys,
  ;; $yc (2·$side each, in row order). $side must be even.
  (func (export "turned") (param $src i32) (param $m i32) (param $side i32) (param $xc i32) (param $xs i32)
      (param $ys i32) (param $yc i32) (param $aspect f64) (param $out i32)
    (local $row i32) (local $h i32) (local $i i32) (local $pairs i32) (local $o i32) (local $cp i32)
    (local $mv v128) (local $av v128) (local $cv v128) (local $high v128) (local $last v128)
    (local $ys0 v128) (local $yc0 v128) (local $ys1 v128) (local $yc1 v128)
    (local $xce v128) (local $xco v128) (local $xse v128) (local $xso v128) (local $s v128)
    (local $q i32) (local $xcv v128) (local $xsv v128) (local $ysv v128) (local $ycv v128)
    (local $u v128) (local $v v128) (local $u0 v128) (local $v0 v128) (local $fu v128) (local $fv v128)
    (local $gu v128) (local $k v128) (local $a0 i32) (local $a1 i32) (local $t v128)
    (local $top0 v128) (local $top1 v128) (local $bottom0 v128) (local $bottom1 v128)
    (local $half v128) (local $one v128)
    (local.set $half (v128.const f64x2 0.5 0.5))
    (local.set $one (v128.const f64x2 1 1))
    (local.set $row (i32.shl (local.get $m) (i32.const 3)))
    (local.set $mv (f64x2.splat (f64.convert_i32_s (local.get $m))))
    (local.set $av (f64x2.splat (local.get $aspect)))
    (local.set $cv (f64x2.splat (f64.div (f64.convert_i32_s (local.get $m)) (f64.const 2))))
    (local.set $high (f64x2.splat (f64.convert_i32_s (i32.sub (local.get $m) (i32.const 1)))))
    (local.set $last (f64x2.splat (f64.convert_i32_s (i32.sub (local.get $m) (i32.const 2)))))
    (local.set $pairs (i32.shr_u (local.get $side) (i32.const 1)))
    (local.set $o (local.get $out))
    (local.set $h (i32.const 0))
    (loop $hs
      (local.set $ys0 (f64x2.splat (f64.load (i32.add (local.get $ys) (i32.shl (local.get $h) (i32.const 4))))))
      (local.set $yc0 (f64x2.splat (f64.load (i32.add (local.get $yc) (i32.shl (local.get $h) (i32.const 4))))))
      (local.set $ys1 (f64x2.splat (f64.load offset=8 (i32.add (local.get $ys) (i32.shl (local.get $h) (i32.const 4))))))
      (local.set $yc1 (f64x2.splat (f64.load offset=8 (i32.add (local.get $yc) (i32.shl (local.get $h) (i32.const 4))))))
      (local.set $i (i32.const 0))
      (loop $is
        (local.set $cp (i32.shl (local.get $i) (i32.const 5)))
        (local.set $xce (v128.load (i32.add (local.get $xc) (local.get $cp))))
        (local.set $xco (v128.load offset=16 (i32.add (local.get $xc) (local.get $cp))))
        (local.set $xse (v128.load (i32.add (local.get $xs) (local.get $cp))))
        (local.set $xso (v128.load offset=16 (i32.add (local.get $xs) (local.get $cp))))
        ;; The four samples of the pair: q = 0 even columns of row 2h, 1 odd ones, 2 even of row
        ;; 2h + 1, 3 odd ones; summed in that order.
        (local.set $q (i32.const 0))
        (loop $qs
          (local.set $xcv (select (result v128) (local.get $xco) (local.get $xce) (i32.and (local.get $q) (i32.const 1))))
          (local.set $xsv (select (result v128) (local.get $xso) (local.get $xse) (i32.and (local.get $q) (i32.const 1))))
          (local.set $ysv (select (result v128) (local.get $ys1) (local.get $ys0) (i32.and (local.get $q) (i32.const 2))))
          (local.set $ycv (select (result v128) (local.get $yc1) (local.get $yc0) (i32.and (local.get $q) (i32.const 2))))
          ;; Two bilinear samples (lanes), as views.ts turned computes each:
          ;;   sx = xc - ys, sy = xs + yc, u = (sx / aspect)·m + c - 0.5, v = sy·m + c - 0.5,
          ;;   each clamped to [0, m - 1] (u < 0 ? 0 : u > m - 1 ? m - 1 : u: pmax(a, b) is
          ;;   a < b ? b : a, pmin(a, b) is b < a ? b : a); u0 = floor(u), v0 = floor(v), each at
          ;;   most m - 2; fu = u - u0, fv = v - v0; then with k = v0·m + u0
          ;;   (s[k]·(1 - fu) + s[k+1]·fu)·(1 - fv) + (s[k+m]·(1 - fu) + s[k+m+1]·fu)·fv.
          (local.set $u (f64x2.sub (f64x2.add (f64x2.mul (f64x2.div (f64x2.sub (local.get $xcv) (local.get $ysv)) (local.get $av)) (local.get $mv)) (local.get $cv)) (local.get $half)))
          (local.set $v (f64x2.sub (f64x2.add (f64x2.mul (f64x2.add (local.get $xsv) (local.get $ycv)) (local.get $mv)) (local.get $cv)) (local.get $half)))
          (local.set $u (f64x2.pmin (f64x2.pmax (local.get $u) (v128.const f64x2 0 0)) (local.get $high)))
          (local.set $v (f64x2.pmin (f64x2.pmax (local.get $v) (v128.const f64x2 0 0)) (local.get $high)))
          (local.set $u0 (f64x2.pmin (f64x2.floor (local.get $u)) (local.get $last)))
          (local.set $v0 (f64x2.pmin (f64x2.floor (local.get $v)) (local.get $last)))
          (local.set $fu (f64x2.sub (local.get $u) (local.get $u0)))
          (local.set $fv (f64x2.sub (local.get $v) (local.get $v0)))
          ;; k = v0·m + u0: whole numbers below 2^31, exact in doubles; plus 2^52, each lane's
          ;; low 32 bits are k itself (a cheaper conversion than trunc_sat's)
          (local.set $k (f64x2.add (f64x2.add (f64x2.mul (local.get $v0) (local.get $mv)) (local.get $u0)) (v128.const f64x2 0x1p52 0x1p52)))
          (local.set $a0 (i32.add (local.get $src) (i32.shl (i32x4.extract_lane 0 (local.get $k)) (i32.const 3))))
          (local.set $a1 (i32.add (local.get $src) (i32.shl (i32x4.extract_lane 2 (local.get $k)) (i32.const 3))))
          ;; each lane's two neighbours in a row with one load, then regrouped by neighbour
          (local.set $top0 (v128.load (local.get $a0)))
          (local.set $top1 (v128.load (local.get $a1)))
          (local.set $bottom0 (v128.load (i32.add (local.get $a0) (local.get $row))))
          (local.set $bottom1 (v128.load (i32.add (local.get $a1) (local.get $row))))
          (local.set $gu (f64x2.sub (local.get $one) (local.get $fu)))
          (local.set $t
            (f64x2.add
              (f64x2.mul
                (f64x2.add
                  (f64x2.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $top0) (local.get $top1)) (local.get $gu))
                  (f64x2.mul (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $top0) (local.get $top1)) (local.get $fu)))
                (f64x2.sub (local.get $one) (local.get $fv)))
              (f64x2.mul
                (f64x2.add
                  (f64x2.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $bottom0) (local.get $bottom1)) (local.get $gu))
                  (f64x2.mul (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $bottom0) (local.get $bottom1)) (local.get $fu)))
                (local.get $fv))))
          ;; the first sample is the sum's start (not 0 + it), as views.ts halved sums
          (local.set $s (select (result v128) (local.get $t) (f64x2.add (local.get $s) (local.get $t)) (i32.eqz (local.get $q))))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br_if $qs (i32.lt_u (local.get $q) (i32.const 4))))
        (v128.store (local.get $o) (f64x2.div (local.get $s) (v128.const f64x2 4 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $is (i32.lt_u (local.get $i) (local.get $pairs))))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br_if $hs (i32.lt_u (local.get $h) (local.get $side)))))

  ;; A pass of area-averaging taps (views.ts Taps) across rows: for output o < $outs, out[o][j] =
  ;; 0 + w[k0]·in[index[k0]][j] + w[k0+1]·in[index[k0+1]][j] + … for k from first[o] to first[o+1],
  ;; in that order (0 when o has no taps), for j < $len, which must be a multiple of 8 (eight j at
  ;; a time). in and out have rows of $len doubles; first and index are i32 arrays, w doubles.
  (func (export "taps") (param $in i32) (param $len i32) (param $first i32) (param $index i32) (param $w i32) (param $outs i32) (param $out i32)
    (local $row i32) (local $o i32) (local $k0 i32) (local $k1 i32) (local $k i32) (local $j i32) (local $p i32) (local $dst i32)
    (local $wk v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $row (i32.shl (local.get $len) (i32.const 3)))
    (local.set $o (i32.const 0))
    (local.set $dst (local.get $out))
    (loop $os
      (local.set $k0 (i32.load (i32.add (local.get $first) (i32.shl (local.get $o) (i32.const 2)))))
      (local.set $k1 (i32.load offset=4 (i32.add (local.get $first) (i32.shl (local.get $o) (i32.const 2)))))
      (local.set $j (i32.const 0))
      (loop $js
        (local.set $a0 (v128.const f64x2 0 0))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $a3 (v128.const f64x2 0 0))
        (local.set $k (local.get $k0))
        (block $done
          (br_if $done (i32.ge_s (local.get $k) (local.get $k1)))
          (loop $ks
            (local.set $wk (f64x2.splat (f64.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 3))))))
            (local.set $p (i32.add (i32.add (local.get $in) (i32.mul (i32.load (i32.add (local.get $index) (i32.shl (local.get $k) (i32.const 2)))) (local.get $row))) (local.get $j)))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $wk) (v128.load offset=0 (local.get $p)))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $wk) (v128.load offset=16 (local.get $p)))))
            (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $wk) (v128.load offset=32 (local.get $p)))))
            (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $wk) (v128.load offset=48 (local.get $p)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $ks (i32.lt_s (local.get $k) (local.get $k1)))))
        (v128.store offset=0 (i32.add (local.get $dst) (local.get $j)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $dst) (local.get $j)) (local.get $a1))
        (v128.store offset=32 (i32.add (local.get $dst) (local.get $j)) (local.get $a2))
        (v128.store offset=48 (i32.add (local.get $dst) (local.get $j)) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 64)))
        (br_if $js (i32.lt_u (local.get $j) (local.get $row))))
      (local.set $dst (i32.add (local.get $dst) (local.get $row)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br_if $os (i32.lt_u (local.get $o) (local.get $outs)))))

  ;; The horizontal pass of views.ts resampleRect over every row of the $m × $m source at $src:
  ;; out[y][c] = 0 + w[k0]·src[y][index[k0]] + w[k0+1]·src[y][index[k0+1]] + … for k from
  ;; first[c] to first[c+1], in that order, for c < $side; two rows (the lanes) at a time, $m even.
  (func (export "rowsPass") (param $src i32) (param $m i32) (param $first i32) (param $index i32) (param $w i32) (param $side i32) (param $out i32)
    (local $row i32) (local $outRow i32) (local $y i32) (local $c i32) (local $k i32) (local $k1 i32)
    (local $p i32) (local $dst i32) (local $i i32) (local $acc v128)
    (local.set $row (i32.shl (local.get $m) (i32.const 3)))
    (local.set $outRow (i32.shl (local.get $side) (i32.const 3)))
    (local.set $y (i32.const 0))
    (loop $ys
      (local.set $p (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $row))))
      (local.set $dst (i32.add (local.get $out) (i32.mul (local.get $y) (local.get $outRow))))
      (local.set $c (i32.const 0))
      (local.set $k (i32.load (local.get $first)))
      (loop $cs
        (local.set $k1 (i32.load offset=4 (i32.add (local.get $first) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $acc (v128.const f64x2 0 0))
        (block $done
          (br_if $done (i32.ge_s (local.get $k) (local.get $k1)))
          (loop $ks
            (local.set $i (i32.add (local.get $p) (i32.shl (i32.load (i32.add (local.get $index) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 3))))
            (local.set $acc (f64x2.add (local.get $acc)
              (f64x2.mul (f64x2.splat (f64.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 3)))))
                (v128.load64_lane 1 (i32.add (local.get $i) (local.get $row)) (v128.load64_zero (local.get $i))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $ks (i32.lt_s (local.get $k) (local.get $k1)))))
        (v128.store64_lane 0 (local.get $dst) (local.get $acc))
        (v128.store64_lane 1 (i32.add (local.get $dst) (local.get $outRow)) (local.get $acc))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $cs (i32.lt_u (local.get $c) (local.get $side))))
      (local.set $y (i32.add (local.get $y) (i32.const 2)))
      (br_if $ys (i32.lt_u (local.get $y) (local.get $m)))))
)
