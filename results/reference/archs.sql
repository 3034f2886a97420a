-- revbench results, table archs (schema version 4): 23 rows, one statement a line.
-- Written by `revbench export`; load with `revbench import DIR --db PATH`.
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-101', 'imagenet', 44541480, 101);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-110', 'cifar10', 1727962, 110);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-164', 'cifar10', 1703258, 164);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-32', 'cifar10', 464154, 32);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-32', 'cifar100', 470004, 32);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-100', 'cifar10', 9699674, 602);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-12', 'cifar10', 1144666, 74);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-25', 'cifar10', 2408474, 152);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-3', 'cifar10', 269722, 20);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-50', 'cifar10', 4838874, 302);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('resnet-basic-6', 'cifar10', 561370, 38);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-104', 'imagenet', 45428072, 104);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-110', 'cifar10', 1729194, 110);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-164', 'cifar10', 1748778, 164);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-38', 'cifar10', 464890, 38);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-38', 'cifar100', 475060, 38);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-100', 'cifar10', 19422506, 1202);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-12', 'cifar10', 2312490, 146);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-200', 'cifar10', 38865706, 2402);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-25', 'cifar10', 4840106, 302);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-3', 'cifar10', 562602, 38);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-50', 'cifar10', 9700906, 602);
INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) VALUES ('revnet-basic-6', 'cifar10', 1145898, 74);
