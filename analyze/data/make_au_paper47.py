#!/usr/bin/env python3
"""Writes au_paper47.dict + au_paper47.npy (the paper's 47-environment Au dictionary,
Rapetti et al. 2023 / Cioni et al. 2024) from the reference copy in ../shared/oracle/dictionary:
the vectors are the paper's own (References.hdf5, float32, filled to 576 and normalised),
the names/groups/sources/atom indices come from reference_dictionary.json.
Usage: make_au_paper47.py [SHARED_DIR]   (default ../../../shared relative to this file)"""
import json, os, sys
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', '..', 'shared')
src = os.path.join(shared, 'oracle', 'dictionary')
meta = json.load(open(os.path.join(src, 'reference_dictionary.json')))
vec = np.load(os.path.join(src, 'references47_576_f64.npy'))
assert vec.shape == (47, 576)
np.save(os.path.join(here, 'au_paper47.npy'), np.ascontiguousarray(vec, dtype='<f8'))
with open(os.path.join(here, 'au_paper47.dict'), 'w') as f:
    f.write('stemdyn-dict 1\n')
    f.write('# The 47 reference environments of ideal Au nanoparticles and their 10 groups\n')
    f.write('# (Rapetti et al., Comm. Chem. 2023; used by Cioni et al., Adv. Sci. 2024).\n')
    f.write('# Vectors: DScribe SOAP (GTO) filled to the full [l][n][n\'] layout, unit length.\n')
    f.write('name au_paper47\nvectors au_paper47.npy\n')
    f.write('r_cut 4.48023312\nsigma 1\nn_max 8\nl_max 8\ndim 576\n')
    labels = meta['group_labels']
    f.write('groups %d\n' % len(labels))
    for g, lab in enumerate(labels):
        f.write('group %d %s\n' % (g, lab))
    refs = meta['references']
    f.write('refs %d\n# ref index group source atom name\n' % len(refs))
    for r in refs:
        assert r['group'] == meta['group_of_reference'][r['index']]
        f.write('ref %d %d %s %d %s\n' % (r['index'], r['group'], r['source_np'],
                                          r['atom_index0_sorted_by_lammps_id'], r['name']))
