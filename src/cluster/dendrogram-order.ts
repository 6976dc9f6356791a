/**
 * The order in which to show the members of one cluster: the leaf order of their dendrogram, so
 * that members close to each other sit next to each other. Pure computation, on ml-hclust's
 * agglomerative clustering (AGNES, O(n³): meant for one cluster's members, not for clustering
 * a database; src/cluster/linkage.ts does that).
 */
import { agnes, type Cluster } from 'ml-hclust';

/**
 * The rows of the square, symmetric distance matrix `distances` (zero diagonal) in the leaf order
 * of their average-linkage dendrogram, with row `first` (default 0) first.
 *
 * The order is one in which the dendrogram is drawn without crossings: at every merge the branch
 * holding `first` comes before the other, and elsewhere the branch holding the smaller row.
 * Equal distances are settled by ml-hclust's scan order of the rows, so the result depends only
 * on the matrix (rows in a fixed order, e.g. by path, give a fixed answer). Returns a
 * permutation of 0..n-1. Throws a RangeError when the matrix is not square or `first` is not a row.
 */
export function dendrogramOrder(distances: readonly (readonly number[])[], first = 0): number[] {
  const n = distances.length;
  if (distances.some((row) => row.length !== n)) throw new RangeError(`dendrogramOrder: a ${n}-row distance matrix with a row of another length`);
  if (n === 0) return [];
  if (!Number.isInteger(first) || first < 0 || first >= n) throw new RangeError(`dendrogramOrder: row ${first} is not one of the ${n} rows`);
  if (n === 1) return [0];
  const tree = agnes(
    distances.map((row) => [...row]),
    { method: 'average', isDistanceMatrix: true },
  );
  const order: number[] = [];
  const visit = (node: Cluster): void => {
    if (node.isLeaf) {
      order.push(node.index);
      return;
    }
    const branches = node.children.map((child) => {
      const leaves = child.indices();
      return { child, hasFirst: leaves.includes(first), smallest: Math.min(...leaves) };
    });
    branches.sort((a, b) => Number(b.hasFirst) - Number(a.hasFirst) || a.smallest - b.smallest);
    for (const b of branches) visit(b.child);
  };
  visit(tree);
  return order;
}
