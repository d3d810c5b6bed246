;; Inner products of one int8 query with many int8 vectors, with 128-bit SIMD (16 bytes per step).
;;
;; dots(query, codes, count, stride, out): for i in [0, count): out[i] = sum_j query[j] * codes[i * stride + j]
;;   query: `stride` int8 at byte offset `query`; codes: count rows of `stride` int8, contiguous, from byte offset
;;   `codes`; out: count int32 from byte offset `out` (4-aligned). stride must be a multiple of 16 (pad with zeros).
;;   Each step multiplies 16 pairs into int16 (|product| <= 16384 fits) and adds neighbouring pairs into int32 lanes.
;;
;; Built into dots-wasm.ts by scripts/wasm/build.mjs (wabt); test/memory/coarse-lists.test.ts checks they agree.
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
        (br $rows)))))
