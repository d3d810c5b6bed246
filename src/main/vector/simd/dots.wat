;; Inner products of one int8 query with many int8 vectors, and int8 quantisation of float32 rows, with 128-bit SIMD.
;;
;; dots(query, codes, count, stride, out): for i in [0, count): out[i] = sum_j query[j] * codes[i * stride + j]
;;   query: `stride` int8 at byte offset `query`; codes: count rows of `stride` int8, contiguous, from byte offset
;;   `codes`; out: count int32 from byte offset `out` (4-aligned). stride must be a multiple of 16 (pad with zeros).
;;   Each step widens 16 pairs to int16 and multiplies and adds them pairwise into int32 lanes (i32x4.dot_i16x8_s:
;;   |a·b + c·d| <= 32768 fits). Rows go four at a time, sharing each widened query step: ~1.7x the one-row loop.
;;
;; Built into dots-wasm.ts by scripts/wasm/build.mjs (wabt); test/vector/coarse-lists.test.ts checks they agree.
(module
  (memory (export "memory") 1)
  (func (export "dots") (param $query i32) (param $codes i32) (param $count i32) (param $stride i32) (param $out i32)
    (local $row i32) (local $q i32) (local $c i32) (local $end i32) (local $s2 i32) (local $s3 i32)
    (local $qv v128) (local $ql v128) (local $qh v128) (local $cv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $c (local.get $codes))
    (local.set $s2 (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $s3 (i32.add (local.get $s2) (local.get $stride)))
    ;; Four rows at a time: each 16 query bytes are loaded and widened once for the four.
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_u (i32.add (local.get $row) (i32.const 4)) (local.get $count)))
        (local.set $q (local.get $query))
        (local.set $end (i32.add (local.get $query) (local.get $stride)))
        (local.set $a0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0))
        (block $block_done
          (loop $step
            (br_if $block_done (i32.ge_u (local.get $q) (local.get $end)))
            (local.set $qv (v128.load (local.get $q)))
            (local.set $ql (i16x8.extend_low_i8x16_s (local.get $qv)))
            (local.set $qh (i16x8.extend_high_i8x16_s (local.get $qv)))
            (local.set $cv (v128.load (local.get $c)))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
              (i32x4.dot_i16x8_s (local.get $ql) (i16x8.extend_low_i8x16_s (local.get $cv)))
              (i32x4.dot_i16x8_s (local.get $qh) (i16x8.extend_high_i8x16_s (local.get $cv))))))
            (local.set $cv (v128.load (i32.add (local.get $c) (local.get $stride))))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
              (i32x4.dot_i16x8_s (local.get $ql) (i16x8.extend_low_i8x16_s (local.get $cv)))
              (i32x4.dot_i16x8_s (local.get $qh) (i16x8.extend_high_i8x16_s (local.get $cv))))))
            (local.set $cv (v128.load (i32.add (local.get $c) (local.get $s2))))
            (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
              (i32x4.dot_i16x8_s (local.get $ql) (i16x8.extend_low_i8x16_s (local.get $cv)))
              (i32x4.dot_i16x8_s (local.get $qh) (i16x8.extend_high_i8x16_s (local.get $cv))))))
            (local.set $cv (v128.load (i32.add (local.get $c) (local.get $s3))))
            (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
              (i32x4.dot_i16x8_s (local.get $ql) (i16x8.extend_low_i8x16_s (local.get $cv)))
              (i32x4.dot_i16x8_s (local.get $qh) (i16x8.extend_high_i8x16_s (local.get $cv))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $step)))
        (i32.store offset=0
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
            (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))
        (i32.store offset=4
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a1)) (i32x4.extract_lane 1 (local.get $a1)))
            (i32.add (i32x4.extract_lane 2 (local.get $a1)) (i32x4.extract_lane 3 (local.get $a1)))))
        (i32.store offset=8
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a2)) (i32x4.extract_lane 1 (local.get $a2)))
            (i32.add (i32x4.extract_lane 2 (local.get $a2)) (i32x4.extract_lane 3 (local.get $a2)))))
        (i32.store offset=12
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a3)) (i32x4.extract_lane 1 (local.get $a3)))
            (i32.add (i32x4.extract_lane 2 (local.get $a3)) (i32x4.extract_lane 3 (local.get $a3)))))
        ;; $c went one row forward in the loop: past the block's other three.
        (local.set $c (i32.add (local.get $c) (local.get $s3)))
        (local.set $row (i32.add (local.get $row) (i32.const 4)))
        (br $blocks)))
    ;; The last rows (fewer than four) one by one.
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $count)))
        (local.set $q (local.get $query))
        (local.set $end (i32.add (local.get $c) (local.get $stride)))
        (local.set $a0 (v128.const i64x2 0 0))
        (block $row_done
          (loop $row_step
            (br_if $row_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $qv (v128.load (local.get $q)))
            (local.set $ql (i16x8.extend_low_i8x16_s (local.get $qv)))
            (local.set $qh (i16x8.extend_high_i8x16_s (local.get $qv)))
            (local.set $cv (v128.load (local.get $c)))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
              (i32x4.dot_i16x8_s (local.get $ql) (i16x8.extend_low_i8x16_s (local.get $cv)))
              (i32x4.dot_i16x8_s (local.get $qh) (i16x8.extend_high_i8x16_s (local.get $cv))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $row_step)))
        (i32.store offset=0
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
            (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  ;; quantize(src, rows, d, dst, scales): each row of d float32 at `src` (contiguous, 16-byte aligned) becomes d int8
  ;; codes at `dst` (contiguous, d per row) with one scale per row at `scales` (float32): code = round(x * 127 / max|x|),
  ;; scale = max|x| / 127 (0 and all-zero codes for a zero row). d must be a multiple of 16.
  (func (export "quantize") (param $src i32) (param $rows i32) (param $d i32) (param $dst i32) (param $scales i32)
    (local $row i32) (local $p i32) (local $end i32) (local $max v128) (local $m f32) (local $f v128)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $end (i32.add (local.get $src) (i32.shl (local.get $d) (i32.const 2))))
        ;; max |x| over the row
        (local.set $max (v128.const i64x2 0 0))
        (local.set $p (local.get $src))
        (block $max_done
          (loop $max_step
            (br_if $max_done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $max (f32x4.max (local.get $max) (f32x4.abs (v128.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $max_step)))
        (local.set $m
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max)))
            (f32.max (f32x4.extract_lane 2 (local.get $max)) (f32x4.extract_lane 3 (local.get $max)))))
        (f32.store (local.get $scales) (f32.div (local.get $m) (f32.const 127)))
        (local.set $f (f32x4.splat (select (f32.div (f32.const 127) (local.get $m)) (f32.const 0) (f32.gt (local.get $m) (f32.const 0)))))
        ;; 16 floats -> 16 int8 per step
        (local.set $p (local.get $src))
        (block $codes_done
          (loop $codes_step
            (br_if $codes_done (i32.ge_u (local.get $p) (local.get $end)))
            (v128.store (local.get $dst)
              (i8x16.narrow_i16x8_s
                (i16x8.narrow_i32x4_s
                  (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $f))))
                  (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $f)))))
                (i16x8.narrow_i32x4_s
                  (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $f))))
                  (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $f)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (br $codes_step)))
        (local.set $src (local.get $end))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))))
