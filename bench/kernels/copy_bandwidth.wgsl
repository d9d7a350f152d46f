// Copy bandwidth probe for the kernel benchmark (bench only, not a runtime kernel).
//
// Bindings (group 0)
//   0 source_data  storage, read   array<vec4<f32>>  n vec4s
//   1 target_data  storage, rw     array<vec4<f32>>  n vec4s
// Each invocation copies one vec4 (16 bytes read + 16 written); a 2-d dispatch covers large n.
// Mirrors torch.Tensor.copy_ on a contiguous float32 tensor: the best case for a memory-bound kernel.

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> source_data: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> target_data: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = id.y * groups.x * WORKGROUP_SIZE + id.x;
  if (index < arrayLength(&source_data)) {
    target_data[index] = source_data[index];
  }
}
