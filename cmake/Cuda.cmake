# DSM_CUDA=AUTO builds the CUDA backend when nvcc, cuBLAS and NCCL are all found;
# ON makes their absence an error; OFF skips it.
set(DSM_HAVE_CUDA OFF)
if(NOT DSM_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  find_library(DSM_NCCL_LIBRARY nccl HINTS /usr/local/cuda/lib /usr/local/cuda/lib64)
  find_path(DSM_NCCL_INCLUDE nccl.h HINTS /usr/local/cuda/include)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND TARGET CUDA::cublas AND DSM_NCCL_LIBRARY
     AND DSM_NCCL_INCLUDE)
    # CI compiles A100 and H100 code; benchmarks/gpu/run.sh builds for the local GPU only
    # (-DCMAKE_CUDA_ARCHITECTURES=native).
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # one CUDA runtime with the C++ code
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(DSM_HAVE_CUDA ON)
    add_library(dsm_nccl INTERFACE)
    target_link_libraries(dsm_nccl INTERFACE ${DSM_NCCL_LIBRARY})
    target_include_directories(dsm_nccl INTERFACE ${DSM_NCCL_INCLUDE})
  elseif(DSM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DSM_CUDA=ON but nvcc, cuBLAS or NCCL was not found")
  endif()
endif()
message(STATUS "dsmserve CUDA backend: ${DSM_HAVE_CUDA}")
