# The native addon, built on `npm install` by node-gyp (scripts/build-addon.mjs).
# Sources: every native/*.cc. libtorch: Debian's libtorch-dev by default, or the
# folder in $LIBTORCH (include/ and lib/, e.g. a CUDA build), as the Makefile does.
{
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")",
    # NCCL for native/dist.cc only with a CUDA libtorch, as the Makefile's DIST_FLAGS
    "nccl%": "<!(node -p \"const l = process.env.LIBTORCH; l && require('fs').existsSync(l + '/lib/libtorch_cuda.so') ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "carso",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter((f) => f.endsWith('.cc')).sort().map((f) => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      # libtorch's headers need RTTI and exceptions, which node-gyp turns off by default
      "cflags_cc!": ["-fno-rtti", "-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["nccl == 1", { "defines": ["CARSO_WITH_NCCL"] }],
        [
          "libtorch == ''",
          {
            "include_dirs": ["/usr/include", "/usr/include/torch/csrc/api/include"],
            "libraries": ["-L/usr/lib/x86_64-linux-gnu", "-ltorch", "-ltorch_cpu", "-lc10"]
          },
          {
            "include_dirs": ["<(libtorch)/include", "<(libtorch)/include/torch/csrc/api/include"],
            "libraries": ["-L<(libtorch)/lib", "-Wl,-rpath,<(libtorch)/lib", "-ltorch", "-ltorch_cpu", "-lc10"]
          }
        ]
      ]
    }
  ]
}
