/**
 * Bottlerocket's own ECR registries, from which every aws-* variant pulls its control container (which runs the
 * SSM agent) and its admin container at boot, with the **instance's role** (host-ctr, through the
 * amazon-ecr-containerd-resolver). A builder role that cannot read them leaves the SSM agent unstarted and every
 * build waits out `ssmOnlineSeconds`.
 *
 * Source, read at bottlerocket-os/bottlerocket commit 91632ff50cafaae1d5b3710a8f799141b5966595 (2024-10-24),
 * `sources/api/schnauzer/src/helpers.rs`: `ECR_MAP` (region -> registry account), `ECR_FALLBACK_REGION` /
 * `ECR_FALLBACK_REGISTRY` (a region missing from the map pulls from us-east-1's 328549459982) and `ecr_registry()`;
 * the same map is in bottlerocket-os/bottlerocket-core-kit commit a10182f974abd19de803bb7a324b5a0bdeab4ced,
 * `sources/api/schnauzer/src/helpers/mod.rs`. The repositories are those of
 * `sources/shared-defaults/aws-host-containers.toml` (bottlerocket repo):
 * `{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:<version>` and `.../bottlerocket-control:<version>`.
 * The calls: host-ctr (core-kit `sources/host-ctr/cmd/host-ctr/main.go`) pulls ECR images with
 * amazon-ecr-containerd-resolver (awslabs/amazon-ecr-containerd-resolver `ecr/resolver.go`, `ecr/base.go`:
 * `BatchGetImage`; `ecr/fetcher.go`: `GetDownloadUrlForLayer`); it signs ECR API calls itself and does not call
 * `ecr:GetAuthorizationToken` for private ECR.
 */
import { Aws } from 'aws-cdk-lib';

/** Bottlerocket's host-container registry account per region (schnauzer `ECR_MAP`, see the module comment). */
export const BOTTLEROCKET_ECR_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '917644944286',
  'ap-east-1': '375569722642',
  'ap-northeast-1': '328549459982',
  'ap-northeast-2': '328549459982',
  'ap-northeast-3': '328549459982',
  'ap-south-1': '328549459982',
  'ap-south-2': '764716012617',
  'ap-southeast-1': '328549459982',
  'ap-southeast-2': '328549459982',
  'ap-southeast-3': '386774335080',
  'ap-southeast-4': '731751899352',
  'ap-southeast-5': '851725293737',
  'ca-central-1': '328549459982',
  'ca-west-1': '253897149516',
  'cn-north-1': '183470599484',
  'cn-northwest-1': '183901325759',
  'eu-central-1': '328549459982',
  'eu-central-2': '861738308508',
  'eu-isoe-west-1': '589460436674',
  'eu-north-1': '328549459982',
  'eu-south-1': '586180183710',
  'eu-south-2': '620625777247',
  'eu-west-1': '328549459982',
  'eu-west-2': '328549459982',
  'eu-west-3': '328549459982',
  'il-central-1': '288123944683',
  'me-central-1': '553577323255',
  'me-south-1': '509306038620',
  'sa-east-1': '328549459982',
  'us-east-1': '328549459982',
  'us-east-2': '328549459982',
  'us-gov-east-1': '388230364387',
  'us-gov-west-1': '347163068887',
  'us-west-1': '328549459982',
  'us-west-2': '328549459982',
};

/** Where a region missing from the map pulls from (schnauzer `ECR_FALLBACK_REGION` / `ECR_FALLBACK_REGISTRY`). */
export const BOTTLEROCKET_ECR_FALLBACK = { region: 'us-east-1', account: '328549459982' } as const;

/** The host containers pulled at boot with the instance role (aws-host-containers.toml). */
export const BOTTLEROCKET_HOST_CONTAINER_REPOSITORIES = ['bottlerocket-control', 'bottlerocket-admin'] as const;

/** What host-ctr calls to pull one of them (amazon-ecr-containerd-resolver). */
export const HOST_CONTAINER_PULL_ACTIONS = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] as const;

/** Every account of the map, the fallback included, each once, sorted. */
export const bottlerocketEcrAccounts = (): string[] =>
  [...new Set([...Object.values(BOTTLEROCKET_ECR_ACCOUNTS), BOTTLEROCKET_ECR_FALLBACK.account])].sort();

/**
 * ARNs of the host-container repositories in every Bottlerocket registry account, any region, in the
 * deployment's partition.
 *
 * Region-agnostic on purpose: a deployment region missing from the map (a new region) makes Bottlerocket pull from
 * us-east-1's registry, and a region wildcard covers that fallback too, whereas a per-region CloudFormation mapping
 * would fail, or silently grant nothing, in a region it does not list. The accounts of other partitions (China,
 * GovCloud, ISO-E) cannot match in this one and grant nothing there.
 *
 * @example hostContainerRepositoryArns()[0] // arn:${AWS::Partition}:ecr:*:183470599484:repository/bottlerocket-admin
 */
export const hostContainerRepositoryArns = (partition: string = Aws.PARTITION): string[] =>
  bottlerocketEcrAccounts().flatMap((account) =>
    [...BOTTLEROCKET_HOST_CONTAINER_REPOSITORIES].sort().map((repository) => `arn:${partition}:ecr:*:${account}:repository/${repository}`),
  );
