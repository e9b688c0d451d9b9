//! Gadgets of `verify_then_run` for the classes of unsafe programs the verifier once accepted
//! (issue 21) and the earlier gadgets never formed: each class needs two or three steps in one
//! order (two pointers, then their difference added back; a spill, then a helper that
//! invalidates it, then a narrow fill used as an offset; a reference held across a legacy
//! packet load), which independent random gadgets almost never line up.
//!
//! | gadget | class | what the oracle sees when the verifier lets the unsafe form through |
//! |---|---|---|
//! | `pointer_pair_gadget` | pointer minus (or another operation with) pointer, of one region or two, scaled and added to a pointer | an access out of bounds |
//! | `invalidated_spill_gadget` | a spilled packet or ring buffer record pointer, a helper that moves the frame or releases the record (or a tail call that falls through), a fill of any width at any offset of the slot used as an offset | an access out of bounds |
//! | `ld_abs_held_gadget` | `ld_abs` / `ld_ind` while holding a ring buffer record | a record still reserved after the run |
//! | `helper_memory_gadget` | a pointer spilled in the stack buffer that `map_update_elem` or `ringbuf_output` copies | a host address in a map or a record |
//! | `rodata_gadget` | stores, atomics, `map_update_elem` / `delete`, `map_peek_elem` / `pop` filling a value of the read-only map | the read-only value changed |
//! | `stack_bytes_gadget` | narrow stores of numbers into spilled slots and fills at any width and offset; variable-offset stack stores and loads; the room left in the packet (`data_end - (data + c)`) compared, then a packet access | an access out of bounds, or a read of unwritten stack |
//!
//! Each has a safe twin about as often (a bounded offset, the load before the reservation, a
//! number in the buffer, a read), so that programs with these gadgets still mostly pass.
//! Registers: r0 to r5 are scratch here; a value register (r7 to r9) is left holding a number.

use super::gen::*;
use super::oracle::{MAP_ARRAY, MAP_HASH, MAP_LRU, MAP_PROGS, MAP_QUEUE, MAP_RINGBUF, MAP_RODATA};
use super::structured::{Flavor, Gen};
use super::{Source, MEMORY_LEN};
use crate::isa::opcode::*;
use crate::isa::Insn;

/// Helper ids: tail call, ring buffer output, reserve, submit, discard.
const TAIL_CALL: i32 = 12;
const RINGBUF_OUTPUT: i32 = 130;
const RINGBUF_RESERVE: i32 = 131;
const RINGBUF_RELEASE: [i32; 2] = [132, 133];
/// The helpers that move an XDP frame: `xdp_adjust_head`, `adjust_meta`, `adjust_tail`.
const FRAME_MOVERS: [i32; 3] = [44, 54, 65];

impl<S: Source> Gen<'_, S> {
    /// One gadget of the classes above.
    pub(super) fn class_gadget(&mut self, item: &mut Item) {
        match self.s.below(6) {
            0 => self.pointer_pair_gadget(item),
            1 => self.invalidated_spill_gadget(item),
            2 if self.flavor != Flavor::Xdp => self.ld_abs_held_gadget(item),
            3 => self.helper_memory_gadget(item),
            4 => self.stack_bytes_gadget(item),
            _ => self.rodata_gadget(item),
        }
    }

    /// The precision the verifier gained with those rules: a narrow store of a number into a
    /// slot (over a spilled number or pointer) filled back at any width and offset; a store or
    /// load at a variable offset in the frame; the room left in the packet after its start,
    /// compared, then a packet access it should prove. The numbers read back decide an access.
    fn stack_bytes_gadget(&mut self, item: &mut Item) {
        let slot = -8 * (1 + self.s.below(8) as i16);
        let v = self.v();
        match (self.s.below(3), self.flavor.packet_fields()) {
            (0, _) => {
                // A spill, a narrow store inside its slot, a fill.
                if self.s.chance(1, 2) {
                    item.push(stx(8, 10, 6, slot));
                } else {
                    item.push(stx(8, 10, v, slot));
                }
                let size = self.s.pick(&[1u8, 2, 4]);
                let off = self.s.below(9 - u64::from(size)) as i16;
                if self.s.chance(1, 2) {
                    self.bound(item, v, 64);
                    item.push(stx(size, 10, v, slot + off));
                } else {
                    let imm = self.imm();
                    item.push(st(size, 10, slot + off, imm));
                }
                let size = self.s.pick(&[1u8, 2, 4, 8]);
                let off = self.s.below(9 - u64::from(size)) as i16;
                item.push(ldx(size, 4, 10, slot + off));
                self.offset_access(item);
            }
            (1, _) => {
                // A variable offset into two written slots (or past them, or past the frame).
                item.push(st(8, 10, -16, 0)).push(st(8, 10, -8, 0));
                let mask = if self.bad() {
                    self.s.pick(&[31, 255])
                } else {
                    self.s.pick(&[1, 3, 7, 15])
                };
                item.push(movr(4, v)).push(alu(BPF_AND, 4, mask));
                item.push(movr(5, 10))
                    .push(alu(BPF_ADD, 5, -16))
                    .push(alur(BPF_ADD, 5, 4));
                let size = self.s.pick(&[1u8, 1, 2]);
                if self.s.chance(1, 2) {
                    item.push(stx(size, 5, v, 0));
                    item.push(ldx(8, 4, 10, -16));
                } else {
                    item.push(ldx(size, 4, 5, 0));
                }
                self.offset_access(item);
            }
            (_, Some((data, end))) => {
                // data_end - (data + c) compared with l, then a byte at c + l - 1 (or c + l, or
                // an unsigned comparison, in a bad variant).
                let c = self.s.below(8) as i32;
                let l = 1 + self.s.below(20) as i32;
                item.push(ldx(4, 2, 6, data)).push(ldx(4, 3, 6, end));
                item.push(movr(4, 2))
                    .push(alu(BPF_ADD, 4, c))
                    .push(alur(BPF_SUB, 3, 4));
                let cmp = if self.bad() { BPF_JLT } else { BPF_JSLT };
                item.jump(jmp(cmp, 3, l, 0), Target::End);
                let at = c + l - i32::from(!self.bad());
                item.push(ldx(1, v, 2, at as i16));
            }
            _ => self.pointer_pair_gadget(item),
        }
    }

    /// `r0 = bpf_map_lookup_elem(map, &key)` with the key at fp-4, and a null check that
    /// leaves the item.
    fn lookup_checked(&mut self, item: &mut Item, map: i32, key: i32) {
        item.push(st(4, 10, -4, key));
        item.extend(&ld_map(1, LDDW_MAP_IDX, map, 0))
            .push(movr(2, 10))
            .push(alu(BPF_ADD, 2, -4))
            .push(call(1));
        item.jump(jmp(BPF_JEQ, 0, 0, 0), Target::End);
    }

    /// `r0 = bpf_ringbuf_reserve(ringbuf, size, 0)` and a null check that leaves the item.
    fn reserve_checked(&mut self, item: &mut Item, size: i32) {
        item.extend(&ld_map(1, LDDW_MAP_IDX, MAP_RINGBUF, 0))
            .push(mov(2, size))
            .push(mov(3, 0))
            .push(call(RINGBUF_RESERVE));
        item.jump(jmp(BPF_JEQ, 0, 0, 0), Target::End);
    }

    /// A scalar in r4 (read back or computed by the caller) added to a pointer, which is then
    /// accessed; half the time bounded first, the safe twin.
    fn offset_access(&mut self, item: &mut Item) {
        let limit = if self.s.chance(1, 2) {
            self.bound(item, 4, 8)
        } else {
            0
        };
        let len = match (self.flavor, self.s.below(3)) {
            (Flavor::Memory, 0) => {
                item.push(movr(5, 6));
                MEMORY_LEN as i64
            }
            (_, 1) => {
                item.push(movr(5, 10)).push(alu(BPF_ADD, 5, -16));
                16
            }
            _ => {
                item.extend(&ld_map(5, LDDW_MAP_IDX_VALUE, MAP_ARRAY, 0));
                16
            }
        };
        item.push(alur(BPF_ADD, 5, 4));
        self.access(item, 5, len - limit, true);
    }

    /// Two pointers (r3, r2) of one region or two, one minus the other (or another operation,
    /// which the verifier must refuse on pointers), scaled, added to a pointer, accessed.
    fn pointer_pair_gadget(&mut self, item: &mut Item) {
        match self.s.below(8) {
            0..=3 => {
                // Two elements of the array (the same or two), or a global value and one: the
                // distance is a stride the verifier cannot know.
                let k = self.s.below(4) as i32;
                self.lookup_checked(item, MAP_ARRAY, k);
                item.push(stx(8, 10, 0, -16));
                if self.s.chance(1, 3) {
                    let off = self.s.below(16) as i32;
                    item.extend(&ld_map(2, LDDW_MAP_IDX_VALUE, MAP_ARRAY, off));
                } else {
                    let m = if self.bad() { MAP_HASH } else { MAP_ARRAY };
                    let k = self.s.below(4) as i32;
                    self.lookup_checked(item, m, k);
                    item.push(movr(2, 0));
                }
                item.push(ldx(8, 3, 10, -16));
            }
            4 => {
                // Two stack pointers.
                let a = 1 + self.s.below(8) as i32;
                let b = 1 + self.s.below(8) as i32;
                item.push(movr(3, 10)).push(alu(BPF_ADD, 3, -8 * a));
                item.push(movr(2, 10)).push(alu(BPF_ADD, 2, -8 * b));
            }
            5 => match self.flavor.packet_fields() {
                Some((data, end)) => {
                    // The packet start and a pointer moved from it, or its end.
                    item.push(ldx(4, 3, 6, data));
                    if self.s.chance(1, 2) {
                        let k = self.s.below(16) as i32;
                        item.push(movr(2, 3)).push(alu(BPF_ADD, 2, k));
                    } else {
                        item.push(ldx(4, 2, 6, end));
                    }
                }
                None => {
                    let k = self.s.below(64) as i32;
                    item.push(movr(3, 6))
                        .push(movr(2, 6))
                        .push(alu(BPF_ADD, 2, k));
                }
            },
            6 => {
                // The context and the frame.
                item.push(movr(3, 6)).push(movr(2, 10));
            }
            _ => {
                // A map value and the frame.
                let k = self.s.below(4) as i32;
                self.lookup_checked(item, MAP_ARRAY, k);
                item.push(movr(3, 0)).push(movr(2, 10));
            }
        }
        let (x, y) = if self.s.chance(1, 4) { (2, 3) } else { (3, 2) };
        item.push(movr(4, x));
        match self.s.below(8) {
            0..=4 => item.push(alur(BPF_SUB, 4, y)),
            5 => item.push(alur32(BPF_SUB, 4, y)),
            _ => {
                let op = self.s.pick(&[BPF_ADD, BPF_AND, BPF_OR, BPF_XOR, BPF_MUL]);
                item.push(alur(op, 4, y))
            }
        };
        match self.s.below(5) {
            0 => {}
            1 | 2 => {
                let k = 1 + self.s.below(4) as i32;
                item.push(alu(BPF_LSH, 4, k));
            }
            3 => {
                let k = self.s.pick(&[3, 5, -1]);
                item.push(alu(BPF_MUL, 4, k));
            }
            _ => {
                item.push(alu(BPF_RSH, 4, 1));
            }
        }
        if self.s.chance(1, 3) {
            // Back onto the first pointer.
            let limit = if self.s.chance(1, 2) {
                self.bound(item, 4, 8)
            } else {
                0
            };
            item.push(movr(5, 3)).push(alur(BPF_ADD, 5, 4));
            self.access(item, 5, 16 - limit, true);
        } else {
            self.offset_access(item);
        }
    }

    /// A pointer spilled to a slot, a helper that invalidates it (or a tail call that falls
    /// through, which does not), then a fill of any width at any offset inside the slot used
    /// as an offset.
    fn invalidated_spill_gadget(&mut self, item: &mut Item) {
        let k = 1 + self.s.below(8) as i16;
        let slot = -8 * k;
        let packet = self.flavor.packet_fields();
        match self.s.below(4) {
            0 | 1 if self.flavor == Flavor::Xdp => {
                // A packet (or metadata) pointer, stale once the frame moves.
                let field = self.s.pick(&[0i16, 0, 8]);
                item.push(ldx(4, 2, 6, field));
                if self.s.chance(1, 2) {
                    let n = self.s.below(16) as i32;
                    item.push(alu(BPF_ADD, 2, n));
                }
                item.push(stx(8, 10, 2, slot));
                let id = self.s.pick(&FRAME_MOVERS);
                let delta = self.s.pick(&[-8, -4, 0, 4, 8, 14]);
                item.push(movr(1, 6)).push(mov(2, delta)).push(call(id));
            }
            2 if packet.is_some() => {
                // The context or a packet pointer, kept across a tail call that falls through.
                if self.s.chance(1, 2) {
                    item.push(stx(8, 10, 6, slot));
                } else {
                    let (data, _) = packet.unwrap_or((0, 0));
                    item.push(ldx(4, 2, 6, data)).push(stx(8, 10, 2, slot));
                }
                let index = self.s.below(3) as i32;
                item.push(movr(1, 6));
                item.extend(&ld_map(2, LDDW_MAP_IDX, MAP_PROGS, 0))
                    .push(mov(3, index))
                    .push(call(TAIL_CALL));
            }
            _ => {
                // A ring buffer record, released by submit or discard.
                let size = self.s.pick(&[8, 16]);
                self.reserve_checked(item, size);
                item.push(stx(8, 10, 0, slot));
                if self.s.chance(1, 2) {
                    let imm = self.imm();
                    item.push(st(8, 0, 0, imm));
                }
                let id = self.s.pick(&RINGBUF_RELEASE);
                item.push(movr(1, 0)).push(mov(2, 0)).push(call(id));
            }
        }
        let size = self.s.pick(&[1u8, 2, 4, 8]);
        let off = self.s.below(9 - u64::from(size)) as i16;
        item.push(ldx(size, 4, 10, slot + off));
        self.offset_access(item);
    }

    /// `ld_abs` or `ld_ind` while holding a ring buffer record (or, the safe twin, after
    /// releasing it).
    fn ld_abs_held_gadget(&mut self, item: &mut Item) {
        let v = self.v();
        let w = self.v();
        let size = self.s.pick(&[8, 16]);
        self.reserve_checked(item, size);
        item.push(movr(v, 0));
        if self.s.chance(1, 2) {
            let imm = self.imm();
            item.push(st(8, v, 0, imm));
        }
        let held = self.s.chance(1, 2);
        let mut loads = Item::new();
        for _ in 0..1 + self.s.below(2) {
            let width = self.s.pick(&[BPF_W, BPF_H, BPF_B]);
            let imm = self.s.below(100) as i32;
            if self.s.chance(1, 2) || w == v {
                loads.push(Insn::new(BPF_LD | BPF_ABS | width, 0, 0, 0, imm));
            } else {
                loads.push(Insn::new(BPF_LD | BPF_IND | width, 0, w, 0, imm));
            }
        }
        if held {
            item.extend(&loads.insns);
        }
        if !self.bad() {
            let id = self.s.pick(&RINGBUF_RELEASE);
            item.push(movr(1, v)).push(mov(2, 0)).push(call(id));
        }
        if !held {
            item.extend(&loads.insns);
        }
        let imm = self.imm();
        item.push(mov(v, imm));
    }

    /// `map_update_elem` or `ringbuf_output` from a stack buffer (fp-24, 16 bytes) that holds
    /// a spilled pointer half the time.
    fn helper_memory_gadget(&mut self, item: &mut Item) {
        let a = self.v();
        let imm = self.imm();
        item.push(stx(8, 10, a, -24)).push(st(8, 10, -16, imm));
        if self.s.chance(1, 2) {
            let at = self.s.pick(&[-24i16, -16]);
            let p = match (self.s.below(5), self.flavor.packet_fields()) {
                (0, _) => 10,
                (1, _) => 6,
                (2, _) => {
                    let off = self.s.below(16) as i32;
                    item.extend(&ld_map(2, LDDW_MAP_IDX_VALUE, MAP_ARRAY, off));
                    2
                }
                (3, Some((data, _))) => {
                    item.push(ldx(4, 2, 6, data));
                    2
                }
                _ => {
                    let k = self.s.below(64) as i32;
                    item.push(movr(2, 10)).push(alu(BPF_ADD, 2, -k));
                    2
                }
            };
            item.push(stx(8, 10, p, at));
        }
        if self.s.chance(2, 3) {
            let m = self.s.pick(&[MAP_HASH, MAP_ARRAY, MAP_LRU]);
            let key = self.s.below(4) as i32;
            item.push(st(4, 10, -4, key));
            item.extend(&ld_map(1, LDDW_MAP_IDX, m, 0))
                .push(movr(2, 10))
                .push(alu(BPF_ADD, 2, -4))
                .push(movr(3, 10))
                .push(alu(BPF_ADD, 3, -24))
                .push(mov(4, 0))
                .push(call(2));
        } else {
            let n = self.s.pick(&[8, 16]);
            item.extend(&ld_map(1, LDDW_MAP_IDX, MAP_RINGBUF, 0))
                .push(movr(2, 10))
                .push(alu(BPF_ADD, 2, -24))
                .push(mov(3, n))
                .push(mov(4, 0))
                .push(call(RINGBUF_OUTPUT));
        }
        let v = self.v();
        item.push(movr(v, 0));
    }

    /// The read-only map: its value read (mostly) or written by a store, an atomic, or a
    /// helper that updates, deletes or fills it.
    fn rodata_gadget(&mut self, item: &mut Item) {
        match self.s.below(6) {
            0..=3 => {
                let len = if self.s.chance(1, 2) {
                    let off = self.s.below(16) as i32;
                    item.extend(&ld_map(2, LDDW_MAP_IDX_VALUE, MAP_RODATA, off));
                    16 - off as i64
                } else {
                    let key = if self.bad() { 1 } else { 0 };
                    self.lookup_checked(item, MAP_RODATA, key);
                    item.push(movr(2, 0));
                    16
                };
                let writes = self.s.chance(1, 3);
                for _ in 0..1 + self.s.below(2) {
                    if writes {
                        self.access(item, 2, len, true);
                    } else {
                        let size = self.s.pick(&[1u8, 2, 4, 8]);
                        let off = self.s.below((len - size as i64).max(0) as u64 + 1) as i16;
                        let v = self.v();
                        item.push(ldx(size, v, 2, off));
                    }
                }
            }
            4 => {
                // Updated or deleted through the map helpers.
                let v = self.v();
                item.push(st(4, 10, -4, 0))
                    .push(stx(8, 10, v, -24))
                    .push(st(8, 10, -16, 1));
                item.extend(&ld_map(1, LDDW_MAP_IDX, MAP_RODATA, 0))
                    .push(movr(2, 10))
                    .push(alu(BPF_ADD, 2, -4));
                if self.s.chance(2, 3) {
                    item.push(movr(3, 10))
                        .push(alu(BPF_ADD, 3, -24))
                        .push(mov(4, 0))
                        .push(call(2));
                } else {
                    item.push(call(3));
                }
                let v = self.v();
                item.push(movr(v, 0));
            }
            _ => {
                // Filled by a helper that writes a value: peek or pop of the queue.
                let id = self.s.pick(&[88, 89]);
                item.extend(&ld_map(1, LDDW_MAP_IDX, MAP_QUEUE, 0));
                item.extend(&ld_map(2, LDDW_MAP_IDX_VALUE, MAP_RODATA, 0));
                item.push(call(id));
                let v = self.v();
                item.push(movr(v, 0));
            }
        }
    }
}
