;; Inner products of one int8 query with many int8 vectors, and int8 quantisation of float32 rows, with 128-bit SIMD.
;;
;; dots(query, codes, count, stride, out): for i in [0, count): out[i] = sum_j query[j] * codes[i * stride + j]
;;   query: `stride` int8 at byte offset `query`; codes: count rows of `stride` int8, contiguous, from byte offset
;;   `codes`; out: count int32 from byte offset `out` (4-aligned). stride must be a multiple of 16 (pad with zeros).
;;   Each step multiplies 16 pairs into int16 (|product| <= 16384 fits) and adds neighbouring pairs into int32 lanes.
;;
;; Built into dots-wasm.ts by scripts/wasm/build.mjs (wabt); test/vector/coarse-lists.test.ts checks they agree.
(module
  (memory (export "memory") 1)
  (func (export "dots") (param $query i32) (param $codes i32) (param $count i32) (param $stride i32) (param $out i32)
    (local $row i32) (local $q i32) (local $c i32) (local $end i32) (local $qv v128) (local $cv v128) (local $acc v128)
    (local.set $c (local.get $codes))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $count)))
        (local.set $q (local.get $query))
        (local.set $end (i32.add (local.get $c) (local.get $stride)))
        (local.set $acc (v128.const i64x2 0 0))
        (block $row_done
          (loop $step
            (br_if $row_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $qv (v128.load (local.get $q)))
            (local.set $cv (v128.load (local.get $c)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.extadd_pairwise_i16x8_s (i16x8.extmul_low_i8x16_s (local.get $qv) (local.get $cv)))))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.extadd_pairwise_i16x8_s (i16x8.extmul_high_i8x16_s (local.get $qv) (local.get $cv)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $step)))
        (i32.store
          (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
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
