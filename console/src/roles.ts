// Harbor's project roles by id.
export const roles: [number, string][] = [
  [1, 'Project admin'],
  [4, 'Maintainer'],
  [2, 'Developer'],
  [3, 'Guest'],
  [5, 'Limited guest'],
];
